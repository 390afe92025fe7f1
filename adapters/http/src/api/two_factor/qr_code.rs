//! The QR code of an `otpauth://` URL, as the `data:image/svg+xml;base64,…` URL a browser
//! shows in an `<img>`.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use qrcode::{QrCode, render::svg, types::QrError};

/// The smallest side of the image, in pixels: large enough to scan from a screen.
const MIN_SIDE: u32 = 200;

/// The SVG QR code of `text` as a data URL.
///
/// # Errors
/// `QrError` when `text` is too long for a QR code (an `otpauth://` URL never is).
pub fn svg_data_url(text: &str) -> Result<String, QrError> {
    let code = QrCode::new(text.as_bytes())?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(MIN_SIDE, MIN_SIDE)
        .quiet_zone(true)
        .build();
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        STANDARD.encode(image.as_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "otpauth://totp/twofa:jane%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=twofa&algorithm=SHA1&digits=6&period=30";

    #[test]
    fn the_qr_code_is_a_base64_data_url_of_an_svg_image() {
        let url = svg_data_url(URL).unwrap();
        let encoded = url.strip_prefix("data:image/svg+xml;base64,").unwrap();
        let svg = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        assert!(svg.starts_with("<?xml"));
        assert!(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("<path"), "the dark modules are drawn");
    }

    #[test]
    fn each_url_has_its_own_image() {
        assert_ne!(
            svg_data_url(URL).unwrap(),
            svg_data_url(&URL.replace("JBSWY3DPEHPK3PXP", "GEZDGNBVGY3TQOJQ")).unwrap()
        );
    }

    #[test]
    fn text_too_long_for_a_qr_code_is_refused() {
        assert!(svg_data_url(&"a".repeat(8000)).is_err());
    }
}
