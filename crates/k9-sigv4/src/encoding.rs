//! URI escaping and path normalisation, as SigV4 defines them.

use std::borrow::Cow;

use percent_encoding::{percent_decode, percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - _ . ~`) is encoded, with
/// upper-case hex: SigV4's `UriEncode()`.
const SIGV4_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Like [`SIGV4_ENCODE`] but `/` separates path segments and stays as is.
const SIGV4_PATH_ENCODE: &AsciiSet = &SIGV4_ENCODE.remove(b'/');

/// `UriEncode()` of arbitrary bytes (query keys and values).
pub(crate) fn encode_component(bytes: &[u8], out: &mut String) {
    out.extend(percent_encode(bytes, SIGV4_ENCODE));
}

/// `UriEncode()` of a path, keeping `/`.
pub(crate) fn encode_path(bytes: &[u8], out: &mut String) {
    out.extend(percent_encode(bytes, SIGV4_PATH_ENCODE));
}

/// Percent-decodes without treating `+` as a space (SigV4 never does). Invalid escapes stay
/// literal, as AWS leaves them.
pub(crate) fn decode(text: &str) -> Cow<'_, [u8]> {
    percent_decode(text.as_bytes()).into()
}

/// RFC 3986 section 5.2.4 "Remove Dot Segments", plus removal of empty segments (`//`),
/// which AWS applies to every service but S3. The result always starts with `/` and keeps
/// a trailing slash if the input had one.
pub(crate) fn normalize_path(path: &str) -> Cow<'_, str> {
    if path.is_empty() {
        return Cow::Borrowed("/");
    }
    let needs_work =
        !path.starts_with('/') || path.contains("//") || path.split('/').any(|s| s == "." || s == "..");
    if !needs_work {
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
    fn plus_is_not_a_space_when_decoding() {
        assert_eq!(&*decode("a+b%2Bc"), b"a+b+c");
        assert_eq!(&*decode("%zz"), b"%zz");
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
