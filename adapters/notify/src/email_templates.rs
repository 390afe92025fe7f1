//! `EmailTemplates`: the e-mail templates kept in `templates/` (compiled in), rendered by plain
//! `{{name}}` substitution. The `EmailRenderer` port is implemented on top.
//!
//! Each template is a pair of files: `NAME.txt`, whose first line is `Subject: …` followed by a
//! blank line and the plain-text body, and `NAME.html`, the HTML alternative. A placeholder is
//! `{{name}}` (spaces inside the braces allowed); values are inserted as given in the text and
//! the subject, HTML-escaped in the HTML, and never scanned again for placeholders.

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use twofa_domain::{EmailAddress, EmailMessage, EmailRenderer, RenderError};

/// One template: its name, subject, plain-text body and HTML body.
struct Template {
    name: &'static str,
    subject: &'static str,
    text: &'static str,
    html: &'static str,
}

impl Template {
    /// Splits `text` (`Subject: …`, a blank line, the body) at compile time.
    const fn new(name: &'static str, text: &'static str, html: &'static str) -> Self {
        let (subject, text) = split_subject(text);
        Self {
            name,
            subject,
            text,
            html,
        }
    }
}

/// Every template, in the order of [`EmailTemplates::NAMES`].
const TEMPLATES: [Template; 4] = [
    Template::new(
        "verify_email",
        include_str!("../templates/verify_email.txt"),
        include_str!("../templates/verify_email.html"),
    ),
    Template::new(
        "password_reset",
        include_str!("../templates/password_reset.txt"),
        include_str!("../templates/password_reset.html"),
    ),
    Template::new(
        "otp_code",
        include_str!("../templates/otp_code.txt"),
        include_str!("../templates/otp_code.html"),
    ),
    Template::new(
        "test_email",
        include_str!("../templates/test_email.txt"),
        include_str!("../templates/test_email.html"),
    ),
];

/// `(subject, body)` of a text template: the rest of a first line that must start with
/// `Subject: `, and what follows the blank line(s) after it. A template that breaks this shape
/// fails the build.
const fn split_subject(source: &'static str) -> (&'static str, &'static str) {
    const PREFIX: &[u8] = b"Subject: ";
    let bytes = source.as_bytes();
    assert!(
        bytes.len() > PREFIX.len(),
        "an e-mail text template must start with a `Subject: ` line"
    );
    let mut index = 0;
    while index < PREFIX.len() {
        assert!(
            bytes[index] == PREFIX[index],
            "an e-mail text template must start with a `Subject: ` line"
        );
        index += 1;
    }
    let mut end = PREFIX.len();
    while end < bytes.len() && bytes[end] != b'\n' {
        end += 1;
    }
    assert!(
        end < bytes.len(),
        "an e-mail text template needs a body after its `Subject: ` line"
    );
    let mut body_start = end;
    while body_start < bytes.len() && (bytes[body_start] == b'\n' || bytes[body_start] == b'\r') {
        body_start += 1;
    }
    let mut subject_end = end;
    if bytes[subject_end - 1] == b'\r' {
        subject_end -= 1;
    }
    let (head, _) = source.split_at(subject_end);
    let (_, subject) = head.split_at(PREFIX.len());
    let (_, body) = source.split_at(body_start);
    (subject, body)
}

/// A rendered e-mail: subject, plain text and HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// The subject line (control characters in values replaced by spaces).
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body (values HTML-escaped).
    pub html: String,
}

/// The e-mail templates compiled into the binary.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmailTemplates;

impl EmailTemplates {
    /// Every template's name.
    pub const NAMES: [&'static str; 4] =
        ["verify_email", "password_reset", "otp_code", "test_email"];

    /// The templates.
    pub fn new() -> Self {
        Self
    }

    /// Renders `template` with `params`: strings as given, numbers and booleans as written in
    /// JSON. Parameters the template does not use are ignored.
    ///
    /// # Errors
    /// `UnknownTemplate` for a name not in [`EmailTemplates::NAMES`]; `MissingParameter` naming
    /// the first placeholder without a (non-null) value.
    pub fn render(
        &self,
        template: &str,
        params: &Map<String, Value>,
    ) -> Result<RenderedEmail, RenderError> {
        let found = find(template)?;
        let subject = substitute(found, found.subject, params, Escape::Subject)?;
        let text = substitute(found, found.text, params, Escape::None)?;
        let html = substitute(found, found.html, params, Escape::Html)?;
        Ok(RenderedEmail {
            subject,
            text,
            html,
        })
    }

    /// The parameters `template` uses, in its subject, text or HTML.
    ///
    /// # Errors
    /// `UnknownTemplate` for a name not in [`EmailTemplates::NAMES`].
    pub fn parameters(&self, template: &str) -> Result<BTreeSet<&'static str>, RenderError> {
        let found = find(template)?;
        Ok([found.subject, found.text, found.html]
            .into_iter()
            .flat_map(Segments::new)
            .filter_map(|segment| match segment {
                Segment::Placeholder(name) => Some(name),
                Segment::Literal(_) => None,
            })
            .collect())
    }
}

impl EmailRenderer for EmailTemplates {
    fn render(
        &self,
        to: EmailAddress,
        template: &str,
        params: &Map<String, Value>,
    ) -> Result<EmailMessage, RenderError> {
        let rendered = Self::render(self, template, params)?;
        Ok(EmailMessage {
            to,
            subject: rendered.subject,
            text: rendered.text,
            html: Some(rendered.html),
        })
    }
}

/// The template named `name`.
fn find(name: &str) -> Result<&'static Template, RenderError> {
    TEMPLATES
        .iter()
        .find(|template| template.name == name)
        .ok_or_else(|| RenderError::UnknownTemplate(name.to_owned()))
}

/// How a value is written into its context.
#[derive(Debug, Clone, Copy)]
enum Escape {
    /// As given (the plain-text body).
    None,
    /// Control characters (line breaks) become spaces: a subject is one header line.
    Subject,
    /// `&`, `<`, `>`, `"` and `'` become entities.
    Html,
}

/// `source` with every placeholder replaced by its parameter.
fn substitute(
    template: &Template,
    source: &'static str,
    params: &Map<String, Value>,
    escape: Escape,
) -> Result<String, RenderError> {
    let mut out = String::with_capacity(source.len() + 64);
    for segment in Segments::new(source) {
        match segment {
            Segment::Literal(text) => out.push_str(text),
            Segment::Placeholder(name) => {
                let value =
                    value_text(params.get(name)).ok_or_else(|| RenderError::MissingParameter {
                        template: template.name.to_owned(),
                        parameter: name.to_owned(),
                    })?;
                write_escaped(&mut out, &value, escape);
            }
        }
    }
    Ok(out)
}

/// A parameter as text; `None` when absent or `null`.
fn value_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other @ (Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_)) => {
            Some(other.to_string())
        }
    }
}

/// Appends `value` to `out`, escaped for its context.
fn write_escaped(out: &mut String, value: &str, escape: Escape) {
    match escape {
        Escape::None => out.push_str(value),
        Escape::Subject => out.extend(value.chars().map(|c| if c.is_control() { ' ' } else { c })),
        Escape::Html => {
            for c in value.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '"' => out.push_str("&quot;"),
                    '\'' => out.push_str("&#x27;"),
                    other => out.push(other),
                }
            }
        }
    }
}

/// A piece of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    /// Text copied as is.
    Literal(&'static str),
    /// `{{name}}`: the parameter's name.
    Placeholder(&'static str),
}

/// The segments of a template, in order. `{{` not followed by a name and `}}` is literal text.
struct Segments {
    rest: &'static str,
}

impl Segments {
    fn new(source: &'static str) -> Self {
        Self { rest: source }
    }
}

impl Iterator for Segments {
    type Item = Segment;

    fn next(&mut self) -> Option<Segment> {
        let first = self.rest.chars().next()?;
        if let Some((name, length)) = placeholder_at(self.rest) {
            self.rest = &self.rest[length..];
            return Some(Segment::Placeholder(name));
        }
        // The literal runs up to the next `{{` that opens a placeholder, or to the end.
        let mut search_from = first.len_utf8();
        let end = loop {
            match self.rest[search_from..].find("{{") {
                Some(offset) => {
                    let open = search_from + offset;
                    if placeholder_at(&self.rest[open..]).is_some() {
                        break open;
                    }
                    search_from = open + 1;
                }
                None => break self.rest.len(),
            }
        };
        let (literal, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(Segment::Literal(literal))
    }
}

/// When `text` starts with `{{ name }}` (a name of ASCII letters, digits and `_`): the name and
/// the placeholder's length.
fn placeholder_at(text: &'static str) -> Option<(&'static str, usize)> {
    let inner_start = text.strip_prefix("{{")?;
    let close = inner_start.find("}}")?;
    let name = inner_start[..close].trim();
    let is_name = !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_');
    is_name.then_some((name, 2 + close + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(source: &'static str) -> Vec<Segment> {
        Segments::new(source).collect()
    }

    #[test]
    fn splits_literals_and_placeholders() {
        assert_eq!(
            segments("Hi {{name}}, {{ code }}!"),
            vec![
                Segment::Literal("Hi "),
                Segment::Placeholder("name"),
                Segment::Literal(", "),
                Segment::Placeholder("code"),
                Segment::Literal("!"),
            ]
        );
    }

    #[test]
    fn braces_that_are_not_a_placeholder_stay_literal() {
        assert_eq!(
            segments("a {{ not a name }} b {{x"),
            vec![Segment::Literal("a {{ not a name }} b {{x")]
        );
        assert_eq!(
            segments("{{}}{{y}}"),
            vec![Segment::Literal("{{}}"), Segment::Placeholder("y")]
        );
    }

    #[test]
    fn an_empty_template_has_no_segments() {
        assert!(segments("").is_empty());
    }

    #[test]
    fn the_subject_line_is_split_from_the_body() {
        assert_eq!(
            split_subject("Subject: Hello\n\nBody\n"),
            ("Hello", "Body\n")
        );
        assert_eq!(
            split_subject("Subject: Hello\r\n\r\nBody"),
            ("Hello", "Body")
        );
    }

    #[test]
    fn every_template_has_a_subject_and_bodies() {
        for template in &TEMPLATES {
            assert!(!template.subject.trim().is_empty(), "{}", template.name);
            assert!(!template.text.trim().is_empty(), "{}", template.name);
            assert!(template.html.contains("</html>"), "{}", template.name);
        }
        let names: Vec<_> = TEMPLATES.iter().map(|template| template.name).collect();
        assert_eq!(names, EmailTemplates::NAMES);
    }
}
