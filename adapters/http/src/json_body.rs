//! `JsonBody<T>`: a strict JSON request body that tells a malformed body (`malformed_body`)
//! from a well-formed one with missing or mistyped fields (`validation_failed`, naming each
//! field by its camelCase path).
//!
//! poem-openapi's own `Json<T>` reports both as one opaque parse error; this payload keeps the
//! document identical (the schema comes from `T`'s `poem_openapi::Object` derive) while parsing
//! through serde, which knows where it failed. Unknown fields are ignored.

use poem::{Request, RequestBody};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    error::ContentTypeError,
    payload::{ParsePayload, Payload},
    registry::{MetaMediaType, MetaRequest, MetaSchemaRef, Registry},
    types::Type,
};
use serde::de::DeserializeOwned;

use crate::problem::{FieldError, Problem, ProblemCode};

/// A JSON request body parsed strictly into `T`.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

/// Why a body was refused; turned into a problem by the error mapping.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Not JSON at all (or empty).
    #[error("the body is not valid JSON: {0}")]
    Malformed(String),
    /// JSON, but not of the expected shape.
    #[error("the body has invalid fields")]
    Invalid(Vec<FieldError>),
}

impl BodyError {
    /// The problem this error is answered with.
    pub fn to_problem(&self) -> Problem {
        match self {
            Self::Malformed(_) => Problem::new(ProblemCode::MalformedBody, self.to_string()),
            Self::Invalid(errors) => Problem::validation(errors.clone()),
        }
    }
}

impl poem::error::ResponseError for BodyError {
    fn status(&self) -> poem::http::StatusCode {
        poem::http::StatusCode::BAD_REQUEST
    }
}

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        content_type.parse::<mime::Mime>().is_ok_and(|mime| {
            mime.type_() == "application"
                && (mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"))
        })
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Type + DeserializeOwned> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = <Vec<u8> as poem::FromRequest>::from_request(request, body).await?;
        parse(&bytes).map(Self).map_err(poem::Error::from)
    }
}

poem_openapi::impl_apirequest_for_payload!(JsonBody<T>, T: Type + DeserializeOwned);

/// A JSON request body that may be absent: no body (or an empty one) is `None`, with or
/// without a `Content-Type`; a body is parsed as strictly as [`JsonBody`] parses it. The
/// refresh and logout routes take their token from the body or, without one, a cookie.
#[derive(Debug, Clone)]
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<'a, T: Type + DeserializeOwned> ApiExtractor<'a> for OptionalJsonBody<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: <JsonBody<T> as Payload>::CONTENT_TYPE,
                schema: T::schema_ref(),
            }],
            required: false,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let bytes = <Vec<u8> as poem::FromRequest>::from_request(request, body).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        match request.content_type() {
            Some(content_type) if <JsonBody<T> as Payload>::check_content_type(content_type) => {
                parse(&bytes)
                    .map(|value| Self(Some(value)))
                    .map_err(poem::Error::from)
            }
            Some(content_type) => Err(ContentTypeError::NotSupported {
                content_type: content_type.to_owned(),
            }
            .into()),
            None => Err(ContentTypeError::ExpectContentType.into()),
        }
    }
}

/// Parses `bytes` as a JSON object into `T`, naming the failing field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyError::Malformed("the body is empty".to_owned()));
    }
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| BodyError::Malformed(e.to_string()))?;
    // Every request body of the API is an object; serde would otherwise read an array as one.
    if !value.is_object() {
        return Err(BodyError::Invalid(vec![FieldError {
            field: "body".to_owned(),
            message: "expected a JSON object".to_owned(),
        }]));
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        BodyError::Invalid(vec![field_error(&path, &message)])
    })
}

/// serde reports a missing field as an error on the enclosing object ("missing field `x`");
/// name the field itself.
fn field_error(path: &str, message: &str) -> FieldError {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let path = if path == "." { "" } else { path };
    match missing {
        Some(name) if path.is_empty() => FieldError {
            field: name.to_owned(),
            message: "is required".to_owned(),
        },
        Some(name) => FieldError {
            field: format!("{path}.{name}"),
            message: "is required".to_owned(),
        },
        None => FieldError {
            field: if path.is_empty() {
                "body".to_owned()
            } else {
                path.to_owned()
            },
            message: message.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[expect(dead_code, reason = "fields exist to be parsed")]
    struct Sample {
        email_address: String,
        count: u32,
        nested: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[expect(dead_code, reason = "fields exist to be parsed")]
    struct Inner {
        name: String,
    }

    fn invalid_fields(body: &str) -> Vec<FieldError> {
        match parse::<Sample>(body.as_bytes()) {
            Err(BodyError::Invalid(errors)) => errors,
            other => panic!("expected invalid fields, got {other:?}"),
        }
    }

    #[test]
    fn an_empty_body_is_malformed() {
        assert!(matches!(
            parse::<Sample>(b"  "),
            Err(BodyError::Malformed(_))
        ));
    }

    #[test]
    fn broken_json_is_malformed() {
        assert!(matches!(
            parse::<Sample>(b"{\"a\":"),
            Err(BodyError::Malformed(_))
        ));
    }

    #[test]
    fn a_missing_field_is_named_in_camel_case() {
        let errors = invalid_fields(r#"{"count": 1}"#);
        assert_eq!(errors[0].field, "emailAddress");
        assert_eq!(errors[0].message, "is required");
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        let errors = invalid_fields(r#"{"emailAddress": "a@b.c", "count": "many"}"#);
        assert_eq!(errors[0].field, "count");
    }

    #[test]
    fn a_nested_field_is_dotted() {
        let errors = invalid_fields(r#"{"emailAddress": "a", "count": 1, "nested": {}}"#);
        assert_eq!(errors[0].field, "nested.name");
    }

    #[test]
    fn unknown_fields_are_ignored() {
        assert!(parse::<Sample>(br#"{"emailAddress": "a", "count": 1, "extra": true}"#).is_ok());
    }

    #[test]
    fn a_body_that_is_not_an_object_names_the_body() {
        let errors = invalid_fields("[1, 2]");
        assert_eq!(errors[0].field, "body");
    }
}
