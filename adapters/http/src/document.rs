//! The OpenAPI document and the browsable docs page.
//!
//! The document is generated from the operations, then completed with the answers the shared
//! layer can give on any route (500, 503; 400, 413, 415 where there is a body; 400 where there
//! are parameters), each as `application/problem+json`. The same string is printed by
//! `twofa openapi`, served at `/api/openapi.json` and embedded in `/api/docs`.

use base64::Engine as _;
use poem_openapi::{OpenApiService, registry::Registry, types::Type as _};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};
use twofa_domain::Scope;

use crate::{
    api::{
        admin::AdminApi,
        api_keys::ApiKeysApi,
        audit::AuditApi,
        auth::AuthApi,
        email::EmailApi,
        health::HealthApi,
        jwks::JwksApi,
        two_factor::TwoFactorApi,
        webhooks::{AdminWebhooksApi, WebhooksApi},
    },
    problem::Problem,
};

/// The scope an API key needs for each operation it may call (API.md "scopes"), written into
/// the document as the operation's `x-required-scope`. An operation that takes an API key's
/// security scheme but is not listed here is one no key may call: the document offers it only
/// the access token. Each route passes the same scope to `principal`; the black-box suite
/// checks every operation of the document against what the service enforces.
pub(crate) const OPERATION_SCOPES: [(&str, Scope); 26] = [
    ("getMe", Scope::UserRead),
    ("listSessions", Scope::UserRead),
    ("listSecondFactors", Scope::TwoFactorRead),
    ("countBackupCodes", Scope::TwoFactorRead),
    ("listTrustedDevices", Scope::TwoFactorRead),
    ("setupTotp", Scope::TwoFactorWrite),
    ("confirmTotp", Scope::TwoFactorWrite),
    ("setupSms", Scope::TwoFactorWrite),
    ("confirmSms", Scope::TwoFactorWrite),
    ("setupEmailFactor", Scope::TwoFactorWrite),
    ("confirmEmailFactor", Scope::TwoFactorWrite),
    ("removeSecondFactor", Scope::TwoFactorWrite),
    ("generateBackupCodes", Scope::TwoFactorWrite),
    ("revokeTrustedDevice", Scope::TwoFactorWrite),
    ("revokeAllTrustedDevices", Scope::TwoFactorWrite),
    ("listAuditLogs", Scope::AuditRead),
    ("listWebhookEventTypes", Scope::WebhooksRead),
    ("listWebhooks", Scope::WebhooksRead),
    ("getWebhook", Scope::WebhooksRead),
    ("listWebhookDeliveries", Scope::WebhooksRead),
    ("createWebhook", Scope::WebhooksWrite),
    ("updateWebhook", Scope::WebhooksWrite),
    ("deleteWebhook", Scope::WebhooksWrite),
    ("rotateWebhookSecret", Scope::WebhooksWrite),
    ("testWebhook", Scope::WebhooksWrite),
    ("retryWebhookDelivery", Scope::WebhooksWrite),
];

/// The security scheme of API keys, as poem-openapi names it.
const API_KEY_SCHEME: &str = "ApiKeyAuth";

/// Every API of the service.
pub(crate) type Apis = (
    HealthApi,
    JwksApi,
    AuthApi,
    EmailApi,
    TwoFactorApi,
    AuditApi,
    ApiKeysApi,
    AdminApi,
    WebhooksApi,
    AdminWebhooksApi,
);

pub(crate) fn service(version: &str) -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            HealthApi,
            JwksApi,
            AuthApi,
            EmailApi,
            TwoFactorApi,
            AuditApi,
            ApiKeysApi,
            AdminApi,
            WebhooksApi,
            AdminWebhooksApi,
        ),
        "twofa",
        version,
    )
    .description(
        "A self-hosted two-factor authentication service. Every error is RFC 9457 \
         application/problem+json with a stable `code`; every response carries `X-Request-Id`.",
    )
}

/// The OpenAPI document of `version`, as served and committed.
pub fn openapi_document(version: &str) -> String {
    complete(&service(version).spec())
}

/// Adds the shared error answers and the problem schema to poem-openapi's document.
fn complete(raw: &str) -> String {
    let Ok(mut document) = serde_json::from_str::<Value>(raw) else {
        return raw.to_owned();
    };
    add_problem_schemas(&mut document);
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for operation in paths.values_mut().filter_map(Value::as_object_mut) {
            for operation in operation.values_mut().filter_map(Value::as_object_mut) {
                add_shared_responses(operation);
                write_scope(operation);
            }
        }
    }
    serde_json::to_string_pretty(&document).unwrap_or_else(|_| raw.to_owned())
}

fn add_problem_schemas(document: &mut Value) {
    let mut registry = Registry::new();
    Problem::register(&mut registry);
    let Some(components) = document.as_object_mut().map(|d| {
        d.entry("components")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|c| c.entry("schemas").or_insert_with(|| json!({})))
    }) else {
        return;
    };
    if let Some(Value::Object(schemas)) = components {
        for (name, schema) in &registry.schemas {
            if let Ok(schema) = serde_json::to_value(schema) {
                schemas.insert(name.clone(), schema);
            }
        }
    }
}

/// Writes the scope an API key needs for `operation` (`x-required-scope`, and a sentence of its
/// description), or, for an operation no key may call, takes the API-key scheme out of its
/// security.
fn write_scope(operation: &mut Map<String, Value>) {
    let takes_keys = operation
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|security| {
            security
                .iter()
                .any(|requirement| requirement.get(API_KEY_SCHEME).is_some())
        });
    if !takes_keys {
        return;
    }
    let id = operation
        .get("operationId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let scope = OPERATION_SCOPES
        .iter()
        .find(|(operation, _)| *operation == id)
        .map(|(_, scope)| *scope);
    let sentence = if let Some(scope) = scope {
        operation.insert("x-required-scope".to_owned(), json!(scope.as_str()));
        format!(
            "An API key needs the scope `{}` (or `*`); without it the answer is 403 \
             `insufficient_scope`.",
            scope.as_str()
        )
    } else {
        if let Some(Value::Array(security)) = operation.get_mut("security") {
            security.retain(|requirement| requirement.get(API_KEY_SCHEME).is_none());
        }
        "Access tokens only: an API key is refused with 403 `insufficient_scope`.".to_owned()
    };
    let description = operation.entry("description").or_insert_with(|| json!(""));
    let text = description.as_str().unwrap_or_default();
    *description = json!(if text.is_empty() {
        sentence
    } else {
        format!("{text}\n\n{sentence}")
    });
}

fn add_shared_responses(operation: &mut Map<String, Value>) {
    let has_body = operation.contains_key("requestBody");
    let has_parameters = operation
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty());
    let mut shared = vec![
        (
            "500",
            "An unexpected error; the cause is logged under the request id.",
        ),
        (
            "503",
            "A dependency is down (`dependency_unavailable`), the service is shedding load \
             (`overloaded`) or the request timed out (`request_timeout`); see `Retry-After`.",
        ),
    ];
    if has_body || has_parameters {
        shared.push((
            "400",
            "The body is not JSON (`malformed_body`) or a field or parameter is invalid \
             (`validation_failed`, with `errors`).",
        ));
    }
    if has_body {
        shared.push((
            "413",
            "The body is over `server.body_limit` (`payload_too_large`).",
        ));
        shared.push((
            "415",
            "The body is not `application/json` (`unsupported_media_type`).",
        ));
    }
    let responses = operation
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(responses) = responses else { return };
    for (status, description) in shared {
        let response = responses
            .entry(status)
            .or_insert_with(|| json!({ "description": description }));
        if let Some(response) = response.as_object_mut() {
            let content = response.entry("content").or_insert_with(|| json!({}));
            if let Some(content) = content.as_object_mut() {
                content.entry(crate::problem::PROBLEM_JSON).or_insert_with(
                    || json!({ "schema": { "$ref": "#/components/schemas/Problem" } }),
                );
            }
        }
    }
}

/// The docs page (Swagger UI over `document`) and the CSP that lets exactly its own inline
/// scripts run: each is allowed by its SHA-256 hash, nothing is loaded from anywhere else.
pub(crate) fn docs_page(version: &str, document: &str) -> (String, String) {
    let service = service(version);
    let html = service
        .swagger_ui_html()
        .replacen(&service.spec(), document, 1);
    let script_hashes: Vec<String> = inline_blocks(&html, "script")
        .map(|script| {
            let digest = Sha256::digest(script.as_bytes());
            format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
        .collect();
    let csp = format!(
        "default-src 'none'; script-src {}; style-src 'unsafe-inline'; img-src data:; \
         connect-src 'self'; font-src data:; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'",
        script_hashes.join(" ")
    );
    (html, csp)
}

/// The contents of every `<tag ...>…</tag>` block of `html`.
fn inline_blocks<'a>(html: &'a str, tag: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut rest = html;
    std::iter::from_fn(move || {
        let start = rest.find(&open)?;
        let after_open = &rest[start..];
        let body_start = after_open.find('>')? + 1;
        let body = &after_open[body_start..];
        let end = body.find(&close)?;
        rest = &body[end + close.len()..];
        Some(&body[..end])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Value {
        serde_json::from_str(&openapi_document("1.2.3")).unwrap()
    }

    #[test]
    fn every_listed_scope_names_an_operation_that_takes_api_keys() {
        let document = document();
        let mut scoped = Vec::new();
        for methods in document["paths"].as_object().unwrap().values() {
            for operation in methods.as_object().unwrap().values() {
                if let Some(scope) = operation.get("x-required-scope") {
                    let security = operation["security"].as_array().unwrap();
                    assert!(
                        security.iter().any(|r| r.get(API_KEY_SCHEME).is_some()),
                        "{operation}"
                    );
                    scoped.push((
                        operation["operationId"].as_str().unwrap().to_owned(),
                        scope.as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
        scoped.sort();
        let mut listed: Vec<(String, String)> = OPERATION_SCOPES
            .iter()
            .map(|(id, scope)| ((*id).to_owned(), scope.as_str().to_owned()))
            .collect();
        listed.sort();
        assert_eq!(scoped, listed);
    }

    #[test]
    fn an_operation_no_key_may_call_offers_only_the_access_token() {
        let document = document();
        let create = &document["paths"]["/api/api-keys"]["post"];
        assert_eq!(create["security"], json!([{ "BearerAuth": [] }]));
        assert!(create.get("x-required-scope").is_none());
        let methods = &document["paths"]["/api/2fa/methods"]["get"];
        assert_eq!(methods["x-required-scope"], json!("2fa:read"));
        assert_eq!(
            methods["security"],
            json!([{ "BearerAuth": [] }, { "ApiKeyAuth": [] }])
        );
    }

    #[test]
    fn every_operation_has_a_unique_operation_id() {
        let document = document();
        let mut ids = Vec::new();
        for methods in document["paths"].as_object().unwrap().values() {
            for operation in methods.as_object().unwrap().values() {
                ids.push(operation["operationId"].as_str().unwrap().to_owned());
            }
        }
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count);
        assert!(count >= 3);
    }

    #[test]
    fn every_operation_declares_problem_answers() {
        let document = document();
        for methods in document["paths"].as_object().unwrap().values() {
            for operation in methods.as_object().unwrap().values() {
                for status in ["500", "503"] {
                    let content = &operation["responses"][status]["content"];
                    assert!(
                        content[crate::problem::PROBLEM_JSON].is_object(),
                        "{status}"
                    );
                }
            }
        }
        assert!(document["components"]["schemas"]["Problem"].is_object());
        assert!(document["components"]["schemas"]["FieldError"].is_object());
    }

    #[test]
    fn paths_are_written_in_full() {
        let document = document();
        let paths = document["paths"].as_object().unwrap();
        assert!(
            paths
                .keys()
                .all(|p| p.starts_with("/api/") || p.starts_with("/.well-known/"))
        );
    }

    #[test]
    fn the_docs_page_embeds_the_completed_document_and_hashes_its_scripts() {
        let document = openapi_document("1.2.3");
        let (html, csp) = docs_page("1.2.3", &document);
        assert!(html.contains(&document));
        let scripts: Vec<_> = inline_blocks(&html, "script").collect();
        assert!(!scripts.is_empty());
        assert_eq!(csp.matches("'sha256-").count(), scripts.len());
        assert!(!csp.contains('*'));
        assert!(
            !csp.contains("'unsafe-inline'; img") || !csp.contains("script-src 'unsafe-inline'")
        );
    }

    #[test]
    fn every_second_factor_route_is_documented_with_bearer_auth_where_it_needs_it() {
        let document = document();
        let routes = [
            ("post", "/api/2fa/totp/setup", "setupTotp", true),
            ("post", "/api/2fa/totp/verify-setup", "confirmTotp", true),
            ("post", "/api/2fa/sms/setup", "setupSms", true),
            ("post", "/api/2fa/sms/verify-setup", "confirmSms", true),
            ("post", "/api/2fa/email/setup", "setupEmailFactor", true),
            (
                "post",
                "/api/2fa/email/verify-setup",
                "confirmEmailFactor",
                true,
            ),
            ("post", "/api/2fa/verify", "verifySecondFactor", false),
            (
                "post",
                "/api/2fa/verify-backup-code",
                "verifyBackupCode",
                false,
            ),
            ("post", "/api/2fa/resend", "resendSecondFactorCode", false),
            ("get", "/api/2fa/methods", "listSecondFactors", true),
            (
                "delete",
                "/api/2fa/methods/{id}",
                "removeSecondFactor",
                true,
            ),
            (
                "get",
                "/api/2fa/backup-codes/count",
                "countBackupCodes",
                true,
            ),
            (
                "post",
                "/api/2fa/backup-codes/generate",
                "generateBackupCodes",
                true,
            ),
            ("get", "/api/2fa/devices", "listTrustedDevices", true),
            (
                "delete",
                "/api/2fa/devices/{id}",
                "revokeTrustedDevice",
                true,
            ),
            (
                "delete",
                "/api/2fa/devices",
                "revokeAllTrustedDevices",
                true,
            ),
        ];
        for (method, path, id, is_bearer) in routes {
            let operation = &document["paths"][path][method];
            assert_eq!(operation["operationId"], id, "{method} {path}");
            assert_eq!(operation["tags"][0], "TwoFactor", "{id}");
            assert_eq!(operation["security"].is_array(), is_bearer, "{id}");
        }
    }

    #[test]
    fn a_status_of_several_causes_describes_each_the_operation_declares() {
        let document = document();
        let verify = &document["paths"]["/api/2fa/verify"]["post"]["responses"];
        let unauthorized = verify["401"]["description"].as_str().unwrap();
        assert!(unauthorized.contains("`invalid_code`"), "{unauthorized}");
        assert!(
            unauthorized.contains("`challenge_expired`"),
            "{unauthorized}"
        );
        assert!(!unauthorized.contains("`unauthorized`"), "{unauthorized}");
        assert!(verify.get("403").is_none() && verify.get("404").is_none());
        let confirm = &document["paths"]["/api/2fa/totp/verify-setup"]["post"]["responses"];
        let unauthorized = confirm["401"]["description"].as_str().unwrap();
        assert!(unauthorized.contains("`unauthorized`") && unauthorized.contains("`invalid_code`"));
        assert!(!unauthorized.contains("`challenge_expired`"));
        let setup = &document["paths"]["/api/2fa/sms/setup"]["post"]["responses"];
        assert_eq!(
            setup["403"]["description"],
            "An API key whose scopes do not include the operation's `x-required-scope`, or an \
             API key on an operation no key may call (`insufficient_scope`). The account's \
             e-mail address is not verified yet (`email_not_verified`)."
        );
    }

    #[test]
    fn a_recent_authentication_body_is_optional() {
        let document = document();
        for (method, path) in [
            ("delete", "/api/2fa/methods/{id}"),
            ("post", "/api/2fa/backup-codes/generate"),
        ] {
            let operation = &document["paths"][path][method];
            assert_eq!(operation["requestBody"]["required"], false, "{path}");
            assert!(
                operation["responses"]["403"]["description"]
                    .as_str()
                    .unwrap()
                    .contains("`reauthentication_required`")
            );
        }
    }

    #[test]
    fn inline_blocks_finds_each_block() {
        let html = "<p><script>a()</script><script type=\"x\">b()</script></p>";
        assert_eq!(
            inline_blocks(html, "script").collect::<Vec<_>>(),
            ["a()", "b()"]
        );
    }
}
