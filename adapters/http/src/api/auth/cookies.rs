//! The refresh cookie (`refreshToken`: `HttpOnly`, `SameSite=Strict`, `Path=/api/auth`,
//! `Secure` outside development), its double-submit CSRF companion (`csrfToken`, readable by
//! scripts, sent back as `X-CSRF-Token`), and the trusted-device cookie (`deviceToken`, with
//! the refresh cookie's attributes, for `devices.trust_ttl`), which login reads when the body
//! carries no `deviceToken`.
//!
//! The CSRF token is bound to the session: it is derived from the refresh token it is issued
//! with ([`csrf_token_for`]), so a `csrfToken` cookie and header planted together (from a
//! sibling subdomain, which can write cookies but not read the `HttpOnly` refresh cookie) do
//! not pass, nor does the pair of another session or of a refresh token since rotated.

use std::time::Duration;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit as _, Mac as _};
use poem::Request;
use sha2::{Digest as _, Sha256};

/// The refresh cookie's name.
pub const REFRESH_COOKIE: &str = "refreshToken";
/// The CSRF cookie's name.
pub const CSRF_COOKIE: &str = "csrfToken";
/// The header that must repeat the CSRF cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The trusted-device cookie's name (the same as the body field).
pub const DEVICE_COOKIE: &str = "deviceToken";

/// How the cookies are written.
#[derive(Debug, Clone, Copy)]
pub struct CookieSettings {
    /// `Secure` (everywhere but development over plain HTTP).
    pub is_secure: bool,
    /// The refresh cookie's `Max-Age` (`tokens.refresh_ttl`).
    pub max_age: Duration,
    /// The trusted-device cookie's `Max-Age` (`devices.trust_ttl`).
    pub device_max_age: Duration,
}

impl CookieSettings {
    fn attributes(self, max_age: u64) -> String {
        let secure = if self.is_secure { "; Secure" } else { "" };
        format!("; SameSite=Strict; Max-Age={max_age}{secure}")
    }

    /// The two `Set-Cookie` values that hand `refresh_token` and its CSRF token
    /// ([`csrf_token_for`]) to a browser.
    pub fn issue(self, refresh_token: &str) -> [String; 2] {
        let csrf_token = csrf_token_for(refresh_token);
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

    /// The `Set-Cookie` value that hands a trusted-device token to a browser: `HttpOnly`,
    /// scoped to the auth routes, where login reads it.
    pub fn trust_device(self, device_token: &str) -> String {
        format!(
            "{DEVICE_COOKIE}={device_token}; Path=/api/auth; HttpOnly{}",
            self.attributes(self.device_max_age.as_secs())
        )
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

/// The domain of the CSRF derivation, so the token is never a value the refresh token serves
/// for elsewhere (its stored hash is a plain SHA-256).
const CSRF_DOMAIN: &[u8] = b"twofa csrf v1";

/// The CSRF token that goes with `refresh_token`: base64url (unpadded) of
/// HMAC-SHA-256 keyed with the refresh token over [`CSRF_DOMAIN`]. Only a holder of the
/// refresh token can compute it, and it changes with every rotation; it reveals nothing of
/// the refresh token to the scripts that read it.
pub fn csrf_token_for(refresh_token: &str) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it. Were it to, the
    // empty token answered here is one no request can present (an empty cookie is absent).
    let Ok(mac) = Hmac::<Sha256>::new_from_slice(refresh_token.as_bytes()) else {
        return String::new();
    };
    URL_SAFE_NO_PAD.encode(mac.chain_update(CSRF_DOMAIN).finalize().into_bytes())
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
    /// In the cookie, with `X-CSRF-Token` and the `csrfToken` cookie both equal to its CSRF
    /// token.
    Cookie(&'a str),
    /// In the cookie, without that `X-CSRF-Token` and `csrfToken` cookie: 403 `csrf_failed`.
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
    let bound = csrf_token_for(token);
    let in_cookie = cookie(request, CSRF_COOKIE);
    let sent = request
        .headers()
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok());
    match (in_cookie, sent) {
        (Some(in_cookie), Some(sent))
            if !bound.is_empty()
                && constant_time_eq(&bound, sent)
                && constant_time_eq(&bound, in_cookie) =>
        {
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
            device_max_age: Duration::from_hours(1),
        };
        let [refresh, csrf] = settings.issue("r");
        assert_eq!(
            refresh,
            "refreshToken=r; Path=/api/auth; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
        assert_eq!(
            csrf,
            format!(
                "csrfToken={}; Path=/; SameSite=Strict; Max-Age=60; Secure",
                csrf_token_for("r")
            )
        );
        let development = CookieSettings {
            is_secure: false,
            ..settings
        };
        assert!(!development.issue("r")[0].contains("Secure"));
        assert!(development.clear()[0].contains("Max-Age=0"));
    }

    #[test]
    fn the_device_cookie_is_http_only_strict_scoped_to_the_auth_routes_for_the_trust_ttl() {
        let settings = CookieSettings {
            is_secure: true,
            max_age: Duration::from_mins(1),
            device_max_age: Duration::from_hours(720),
        };
        assert_eq!(
            settings.trust_device("d"),
            "deviceToken=d; Path=/api/auth; HttpOnly; SameSite=Strict; Max-Age=2592000; Secure"
        );
        let development = CookieSettings {
            is_secure: false,
            ..settings
        };
        assert!(!development.trust_device("d").contains("Secure"));
        let request = request("a=b; deviceToken=d", None);
        assert_eq!(cookie(&request, DEVICE_COOKIE), Some("d"));
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
    fn the_csrf_token_is_an_hmac_of_the_refresh_token() {
        // Python: base64.urlsafe_b64encode(hmac.new(b"refresh", b"twofa csrf v1",
        // hashlib.sha256).digest()).rstrip(b"=")
        assert_eq!(
            csrf_token_for("refresh"),
            "N86EzhtAhMnY2TOIE2gfXR5m2KOeq8FCcEUwYvUdFWI"
        );
        let token = csrf_token_for("refresh");
        assert_eq!(token.len(), 43);
        assert_ne!(token, csrf_token_for("refresh2"));
        assert_ne!(
            URL_SAFE_NO_PAD.decode(&token).unwrap(),
            Sha256::digest(b"refresh").to_vec(),
            "never the stored refresh-token hash"
        );
    }

    #[test]
    fn a_cookie_token_needs_the_csrf_token_bound_to_it() {
        let csrf = csrf_token_for("cookie");
        let cookies = format!("a=b; refreshToken=cookie; csrfToken={csrf}");
        let cookies = cookies.as_str();
        assert_eq!(
            presented_refresh_token(&request(cookies, Some(&csrf)), None),
            PresentedRefreshToken::Cookie("cookie")
        );
        assert_eq!(
            presented_refresh_token(&request(cookies, Some("abc")), None),
            PresentedRefreshToken::CsrfFailed
        );
        // A planted pair, equal to each other but not bound to the refresh token.
        assert_eq!(
            presented_refresh_token(
                &request("refreshToken=cookie; csrfToken=abc", Some("abc")),
                None
            ),
            PresentedRefreshToken::CsrfFailed
        );
        // The bound token in the header, another in the cookie.
        assert_eq!(
            presented_refresh_token(
                &request("refreshToken=cookie; csrfToken=abc", Some(&csrf)),
                None
            ),
            PresentedRefreshToken::CsrfFailed
        );
        // The pair of another refresh token.
        let other = csrf_token_for("other");
        assert_eq!(
            presented_refresh_token(
                &request(
                    &format!("refreshToken=cookie; csrfToken={other}"),
                    Some(&other)
                ),
                None
            ),
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
