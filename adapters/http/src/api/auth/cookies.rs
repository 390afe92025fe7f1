//! The refresh cookie (`refreshToken`: `HttpOnly`, `SameSite=Strict`, `Path=/api/auth`,
//! `Secure` outside development) and its double-submit CSRF companion (`csrfToken`, readable by
//! scripts, sent back as `X-CSRF-Token`).

use std::time::Duration;

use poem::Request;
use sha2::{Digest as _, Sha256};

/// The refresh cookie's name.
pub const REFRESH_COOKIE: &str = "refreshToken";
/// The CSRF cookie's name.
pub const CSRF_COOKIE: &str = "csrfToken";
/// The header that must repeat the CSRF cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the cookies are written.
#[derive(Debug, Clone, Copy)]
pub struct CookieSettings {
    /// `Secure` (everywhere but development over plain HTTP).
    pub is_secure: bool,
    /// The refresh cookie's `Max-Age` (`tokens.refresh_ttl`).
    pub max_age: Duration,
}

impl CookieSettings {
    fn attributes(self, max_age: u64) -> String {
        let secure = if self.is_secure { "; Secure" } else { "" };
        format!("; SameSite=Strict; Max-Age={max_age}{secure}")
    }

    /// The two `Set-Cookie` values that hand `refresh_token` and a new `csrf_token` to a
    /// browser.
    pub fn issue(self, refresh_token: &str, csrf_token: &str) -> [String; 2] {
        let max_age = self.max_age.as_secs();
        [
            format!(
                "{REFRESH_COOKIE}={refresh_token}; Path=/api/auth; HttpOnly{}",
                self.attributes(max_age)
            ),
            format!(
                "{CSRF_COOKIE}={csrf_token}; Path=/{}",
                self.attributes(max_age)
            ),
        ]
    }

    /// The two `Set-Cookie` values that remove both cookies.
    pub fn clear(self) -> [String; 2] {
        [
            format!(
                "{REFRESH_COOKIE}=; Path=/api/auth; HttpOnly{}",
                self.attributes(0)
            ),
            format!("{CSRF_COOKIE}=; Path=/{}", self.attributes(0)),
        ]
    }
}

/// The value of cookie `name` in the request, if sent (the first, when sent twice).
pub fn cookie<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .headers()
        .get_all(poem::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// Where a refresh or logout request's refresh token came from.
#[derive(Debug, PartialEq, Eq)]
pub enum PresentedRefreshToken<'a> {
    /// In the body (wins over the cookie; needs no CSRF token).
    Body(&'a str),
    /// In the cookie, with the matching `X-CSRF-Token`.
    Cookie(&'a str),
    /// In the cookie, without a matching `X-CSRF-Token`: 403 `csrf_failed`.
    CsrfFailed,
    /// Nowhere: 401.
    Missing,
}

/// The refresh token of a refresh or logout request.
pub fn presented_refresh_token<'a>(
    request: &'a Request,
    body_token: Option<&'a str>,
) -> PresentedRefreshToken<'a> {
    if let Some(token) = body_token.filter(|token| !token.is_empty()) {
        return PresentedRefreshToken::Body(token);
    }
    let Some(token) = cookie(request, REFRESH_COOKIE) else {
        return PresentedRefreshToken::Missing;
    };
    let expected = cookie(request, CSRF_COOKIE);
    let sent = request
        .headers()
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok());
    match (expected, sent) {
        (Some(expected), Some(sent)) if constant_time_eq(expected, sent) => {
            PresentedRefreshToken::Cookie(token)
        }
        _ => PresentedRefreshToken::CsrfFailed,
    }
}

/// Compares digests, so the time taken says nothing about where the texts differ.
fn constant_time_eq(a: &str, b: &str) -> bool {
    let a = Sha256::digest(a.as_bytes());
    let b = Sha256::digest(b.as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0_u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use poem::http::header;

    use super::*;

    fn request(cookies: &str, csrf: Option<&str>) -> Request {
        let mut builder = Request::builder().header(header::COOKIE, cookies);
        if let Some(csrf) = csrf {
            builder = builder.header(CSRF_HEADER, csrf);
        }
        builder.finish()
    }

    #[test]
    fn the_refresh_cookie_is_http_only_strict_and_scoped_to_the_auth_routes() {
        let settings = CookieSettings {
            is_secure: true,
            max_age: Duration::from_mins(1),
        };
        let [refresh, csrf] = settings.issue("r", "c");
        assert_eq!(
            refresh,
            "refreshToken=r; Path=/api/auth; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
        assert_eq!(
            csrf,
            "csrfToken=c; Path=/; SameSite=Strict; Max-Age=60; Secure"
        );
        let development = CookieSettings {
            is_secure: false,
            ..settings
        };
        assert!(!development.issue("r", "c")[0].contains("Secure"));
        assert!(development.clear()[0].contains("Max-Age=0"));
    }

    #[test]
    fn a_body_token_wins_and_needs_no_csrf_token() {
        let request = request("refreshToken=cookie", None);
        assert_eq!(
            presented_refresh_token(&request, Some("body")),
            PresentedRefreshToken::Body("body")
        );
    }

    #[test]
    fn a_cookie_token_needs_the_matching_csrf_header() {
        let cookies = "a=b; refreshToken=cookie; csrfToken=xyz";
        assert_eq!(
            presented_refresh_token(&request(cookies, Some("xyz")), None),
            PresentedRefreshToken::Cookie("cookie")
        );
        assert_eq!(
            presented_refresh_token(&request(cookies, Some("abc")), None),
            PresentedRefreshToken::CsrfFailed
        );
        assert_eq!(
            presented_refresh_token(&request(cookies, None), None),
            PresentedRefreshToken::CsrfFailed
        );
        assert_eq!(
            presented_refresh_token(&request("refreshToken=cookie", Some("")), None),
            PresentedRefreshToken::CsrfFailed
        );
        assert_eq!(
            presented_refresh_token(&request("other=1", None), None),
            PresentedRefreshToken::Missing
        );
    }
}
