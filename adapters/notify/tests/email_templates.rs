//! The e-mail templates: each renders with its parameters, a missing one is named, values are
//! HTML-escaped in the HTML and links appear in full.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use twofa_domain::{EmailAddress, EmailRenderer, RenderError};
use twofa_notify::EmailTemplates;

const VERIFY_LINK: &str = "http://127.0.0.1:8080/verify-email?token=Zm9v_YmFy-123";
const RESET_LINK: &str = "http://127.0.0.1:8080/reset-password?token=cXV4&x=1";

fn params(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other @ (Value::Null
        | Value::Bool(_)
        | Value::Number(_)
        | Value::String(_)
        | Value::Array(_)) => panic!("not an object: {other}"),
    }
}

/// Each template with the parameters it needs.
fn cases() -> Vec<(&'static str, Map<String, Value>)> {
    vec![
        ("verify_email", params(json!({ "link": VERIFY_LINK }))),
        ("password_reset", params(json!({ "link": RESET_LINK }))),
        ("otp_code", params(json!({ "code": "042917" }))),
        ("test_email", Map::new()),
    ]
}

#[test]
fn every_template_renders_with_its_parameters() {
    let templates = EmailTemplates::new();
    let names: Vec<_> = cases().into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, EmailTemplates::NAMES);
    for (name, params) in cases() {
        let rendered = templates.render(name, &params).unwrap();
        assert!(!rendered.subject.is_empty(), "{name}");
        assert!(!rendered.subject.contains('\n'), "{name}");
        assert!(rendered.subject.contains("twofa"), "{name}");
        assert!(rendered.text.contains("twofa"), "{name}");
        assert!(rendered.html.starts_with("<!DOCTYPE html>"), "{name}");
        for rendered_part in [&rendered.subject, &rendered.text, &rendered.html] {
            assert!(!rendered_part.contains("{{"), "{name}: {rendered_part}");
        }
    }
}

#[test]
fn each_template_declares_the_parameters_callers_send() {
    let templates = EmailTemplates::new();
    let expected: [(&str, &[&str]); 4] = [
        ("verify_email", &["link"]),
        ("password_reset", &["link"]),
        ("otp_code", &["code"]),
        ("test_email", &[]),
    ];
    for (name, parameters) in expected {
        let declared = templates.parameters(name).unwrap();
        let expected: BTreeSet<&str> = parameters.iter().copied().collect();
        assert_eq!(declared, expected, "{name}");
    }
}

#[test]
fn links_appear_in_full_in_the_text_and_the_html() {
    let templates = EmailTemplates::new();
    let verify = templates
        .render("verify_email", &params(json!({ "link": VERIFY_LINK })))
        .unwrap();
    assert!(verify.text.contains(VERIFY_LINK), "{}", verify.text);
    assert!(
        verify
            .html
            .contains(&format!("<a href=\"{VERIFY_LINK}\">{VERIFY_LINK}</a>")),
        "{}",
        verify.html
    );

    let reset = templates
        .render("password_reset", &params(json!({ "link": RESET_LINK })))
        .unwrap();
    assert!(reset.text.contains(RESET_LINK), "{}", reset.text);
    let escaped = RESET_LINK.replace('&', "&amp;");
    assert!(
        reset.html.contains(&format!("href=\"{escaped}\"")),
        "{}",
        reset.html
    );
}

#[test]
fn the_code_appears_in_both_bodies_but_not_the_subject() {
    let rendered = EmailTemplates::new()
        .render("otp_code", &params(json!({ "code": "042917" })))
        .unwrap();
    assert!(rendered.text.contains("\n042917\n"), "{}", rendered.text);
    assert!(rendered.html.contains(">042917<"), "{}", rendered.html);
    assert!(!rendered.subject.contains("042917"));
}

#[test]
fn a_missing_parameter_is_named() {
    let error = EmailTemplates::new()
        .render("verify_email", &params(json!({ "code": "1" })))
        .unwrap_err();
    assert_eq!(
        error,
        RenderError::MissingParameter {
            template: "verify_email".to_owned(),
            parameter: "link".to_owned(),
        }
    );
    let message = error.to_string();
    assert!(message.contains("`link`"), "{message}");
    assert!(message.contains("`verify_email`"), "{message}");
}

#[test]
fn a_null_parameter_counts_as_missing() {
    let error = EmailTemplates::new()
        .render("otp_code", &params(json!({ "code": null })))
        .unwrap_err();
    assert!(matches!(error, RenderError::MissingParameter { .. }));
}

#[test]
fn an_unknown_template_is_named() {
    let error = EmailTemplates::new()
        .render("welcome", &Map::new())
        .unwrap_err();
    assert_eq!(error, RenderError::UnknownTemplate("welcome".to_owned()));
    assert!(error.to_string().contains("`welcome`"));
    assert!(EmailTemplates::new().parameters("welcome").is_err());
}

#[test]
fn values_are_html_escaped_in_the_html_only() {
    let hostile = "<script>alert(\"x\")</script>&'";
    let rendered = EmailTemplates::new()
        .render("otp_code", &params(json!({ "code": hostile })))
        .unwrap();
    assert!(
        rendered
            .html
            .contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#x27;"),
        "{}",
        rendered.html
    );
    assert!(!rendered.html.contains("<script>"));
    assert!(rendered.text.contains(hostile), "{}", rendered.text);
}

#[test]
fn a_value_is_not_scanned_for_placeholders() {
    let rendered = EmailTemplates::new()
        .render("verify_email", &params(json!({ "link": "{{link}}" })))
        .unwrap();
    assert!(rendered.text.contains("{{link}}"), "{}", rendered.text);
}

#[test]
fn numbers_are_written_as_in_json() {
    let rendered = EmailTemplates::new()
        .render("otp_code", &params(json!({ "code": 123_456 })))
        .unwrap();
    assert!(rendered.text.contains("123456"));
}

#[test]
fn the_renderer_port_builds_the_message_with_both_bodies() {
    let to = EmailAddress::parse("alice@example.com").unwrap();
    let renderer: &dyn EmailRenderer = &EmailTemplates::new();
    let message = renderer
        .render(to.clone(), "otp_code", &params(json!({ "code": "042917" })))
        .unwrap();
    assert_eq!(message.to, to);
    assert_eq!(message.subject, "Your twofa verification code");
    assert!(message.text.contains("042917"));
    assert!(message.html.unwrap().contains("042917"));

    let error = renderer.render(to, "nope", &Map::new()).unwrap_err();
    assert!(matches!(error, RenderError::UnknownTemplate(name) if name == "nope"));
}
