//! The `EmailRenderer` port: turns a template name and its parameters into an e-mail's subject
//! and bodies. The templates are kept in the repository, beside the adapter that renders them.

use crate::EmailMessage;

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// No template has this name.
    #[error("no e-mail template named `{0}`")]
    UnknownTemplate(String),
    /// The template needs a parameter that was not given.
    #[error("the e-mail template `{template}` needs the parameter `{parameter}`")]
    MissingParameter {
        /// The template.
        template: String,
        /// The missing parameter.
        parameter: String,
    },
}

/// Renders e-mail templates.
///
/// # Errors
/// `RenderError` when the template does not exist or a parameter is missing; both are
/// permanent (rendering again will not help).
pub trait EmailRenderer: Send + Sync + 'static {
    /// The message to `to` from `template` with `params`.
    fn render(
        &self,
        to: crate::EmailAddress,
        template: &str,
        params: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<EmailMessage, RenderError>;
}
