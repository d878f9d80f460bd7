//! URI escaping and path normalisation, as SigV4 defines them.

use std::borrow::Cow;

use percent_encoding::percent_decode;

/// Whether SigV4's `UriEncode()` leaves `byte` as is: RFC 3986 unreserved characters
/// (`A-Z a-z 0-9 - _ . ~`). Everything else is encoded, with upper-case hex.
const fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~')
}

const UNRESERVED: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = is_unreserved(i as u8);
        i += 1;
    }
    table
};

const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";
const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `bytes` percent-encoded, leaving unreserved bytes (and `/` if `keep_slash`) as
/// they are. Runs of bytes that need no encoding are copied in one go.
fn encode_into(bytes: &[u8], keep_slash: bool, out: &mut String) {
    out.reserve(bytes.len());
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        if UNRESERVED[usize::from(byte)] || (keep_slash && byte == b'/') {
            continue;
        }
        // `bytes[start..i]` is all ASCII (unreserved or `/`), so it is valid UTF-8.
        out.push_str(std::str::from_utf8(&bytes[start..i]).unwrap_or_default());
        out.push('%');
        out.push(char::from(UPPER_HEX[usize::from(byte >> 4)]));
        out.push(char::from(UPPER_HEX[usize::from(byte & 0xf)]));
        start = i + 1;
    }
    out.push_str(std::str::from_utf8(&bytes[start..]).unwrap_or_default());
}

/// Whether `bytes` is all unreserved characters and `/`, i.e. its own `UriEncode()` (for a
/// path) and its own percent-decoding.
pub(crate) fn is_plain_path(bytes: &[u8]) -> bool {
    // Range tests folded without early exit, so the loop vectorises.
    bytes.iter().fold(true, |plain, &b| {
        plain & (b.is_ascii_alphanumeric() | matches!(b, b'-' | b'_' | b'.' | b'~' | b'/'))
    })
}

/// `UriEncode()` of arbitrary bytes (query keys and values).
pub(crate) fn encode_component(bytes: &[u8], out: &mut String) {
    encode_into(bytes, false, out);
}

/// `UriEncode()` of a path, keeping `/`.
pub(crate) fn encode_path(bytes: &[u8], out: &mut String) {
    encode_into(bytes, true, out);
}

/// Lower-case hex of a SHA-256 digest or HMAC, on the stack.
pub(crate) fn hex32(bytes: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    for (i, byte) in bytes.iter().enumerate() {
        out[2 * i] = LOWER_HEX[usize::from(byte >> 4)];
        out[2 * i + 1] = LOWER_HEX[usize::from(byte & 0xf)];
    }
    out
}

/// The text of [`hex32`]'s output (always ASCII).
pub(crate) fn hex_str(hex: &[u8; 64]) -> &str {
    std::str::from_utf8(hex).unwrap_or_default()
}

/// Percent-decodes without treating `+` as a space (SigV4 never does). Invalid escapes stay
/// literal, as AWS leaves them.
pub(crate) fn decode(text: &str) -> Cow<'_, [u8]> {
    percent_decode(text.as_bytes()).into()
}

/// Whether [`normalize_path`] would change `path`: it is relative, or has an empty segment
/// (`//`) before its end, or a `.` or `..` segment. One pass over the bytes.
fn needs_normalization(path: &[u8]) -> bool {
    if path.first() != Some(&b'/') {
        return true;
    }
    let mut start = 1;
    loop {
        let end = crate::text::find_byte(&path[start..], b'/').map_or(path.len(), |i| start + i);
        let segment = &path[start..end];
        let last = end == path.len();
        if (segment.is_empty() && !last) || segment == b"." || segment == b".." {
            return true;
        }
        if last {
            return false;
        }
        start = end + 1;
    }
}

/// RFC 3986 section 5.2.4 "Remove Dot Segments", plus removal of empty segments (`//`),
/// which AWS applies to every service but S3. The result always starts with `/` and keeps
/// a trailing slash if the input had one.
pub(crate) fn normalize_path(path: &str) -> Cow<'_, str> {
    if path.is_empty() {
        return Cow::Borrowed("/");
    }
    if !needs_normalization(path.as_bytes()) {
        return Cow::Borrowed(path);
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut result = String::with_capacity(path.len() + 1);
    for segment in &segments {
        result.push('/');
        result.push_str(segment);
    }
    let ends_with_directory = ["/", "/.", "/.."].iter().any(|end| path.ends_with(end));
    if result.is_empty() || (ends_with_directory && !result.ends_with('/')) {
        result.push('/');
    }
    Cow::Owned(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(bytes: &[u8]) -> String {
        let mut out = String::new();
        encode_component(bytes, &mut out);
        out
    }

    #[test]
    fn unreserved_characters_are_not_encoded() {
        assert_eq!(encoded(b"AZaz09-_.~"), "AZaz09-_.~");
    }

    #[test]
    fn reserved_characters_are_encoded_with_upper_case_hex() {
        assert_eq!(encoded(b"a b+c/d=e&f:@$"), "a%20b%2Bc%2Fd%3De%26f%3A%40%24");
        assert_eq!(encoded("é".as_bytes()), "%C3%A9");
    }

    #[test]
    fn path_encoding_keeps_slashes_and_reencodes_percent() {
        let mut out = String::new();
        encode_path(b"/a%20b/@c", &mut out);
        assert_eq!(out, "/a%2520b/%40c");
    }

    #[test]
    fn encoding_matches_a_byte_by_byte_reference() {
        for byte in 0..=255u8 {
            let mut out = String::new();
            encode_component(&[b'a', byte, b'z'], &mut out);
            let expected = if is_unreserved(byte) {
                format!("a{}z", byte as char)
            } else {
                format!("a%{byte:02X}z")
            };
            assert_eq!(out, expected);
        }
    }

    #[test]
    fn plain_paths_are_unreserved_characters_and_slashes() {
        for byte in 0..=255u8 {
            assert_eq!(
                is_plain_path(&[b'/', byte]),
                is_unreserved(byte) || byte == b'/',
                "{byte}"
            );
        }
    }

    #[test]
    fn hex_is_lower_case() {
        let mut bytes = [0u8; 32];
        bytes[0] = 0xAB;
        bytes[31] = 0x0F;
        let hex = hex32(&bytes);
        assert!(hex_str(&hex).starts_with("ab00"));
        assert!(hex_str(&hex).ends_with("000f"));
        assert_eq!(hex_str(&hex), hex::encode(bytes));
    }

    #[test]
    fn plus_is_not_a_space_when_decoding() {
        assert_eq!(&*decode("a+b%2Bc"), b"a+b+c");
        assert_eq!(&*decode("%zz"), b"%zz");
    }

    #[test]
    fn needs_normalization_matches_its_definition() {
        for path in [
            "", "/", "//", "/a", "/a/", "a", "/./", "/.", "/..", "/a/.", "/a/..", "/a/.b",
            "/a/..b", "/.a/", "/a//b", "/a/b/", "/...", "/a/./b",
        ] {
            let by_definition = !path.starts_with('/')
                || path.contains("//")
                || path.split('/').any(|s| s == "." || s == "..");
            assert_eq!(
                needs_normalization(path.as_bytes()),
                by_definition,
                "{path:?}"
            );
        }
    }

    #[test]
    fn dot_segments_and_empty_segments_are_removed() {
        for (input, expected) in [
            ("", "/"),
            ("/", "/"),
            ("/example/..", "/"),
            ("/example/../", "/"),
            ("/example1/example2/../..", "/"),
            ("/./", "/"),
            ("/./example", "/example"),
            ("/example/.", "/example/"),
            ("//example//", "/example/"),
            ("/a/b/../c", "/a/c"),
            ("/../../x", "/x"),
            ("relative", "/relative"),
            ("/plain/path", "/plain/path"),
        ] {
            assert_eq!(normalize_path(input), expected, "normalising {input:?}");
        }
    }
}
