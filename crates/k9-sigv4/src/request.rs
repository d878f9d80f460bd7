//! A borrowed view of an HTTP request, as the wire carried it.

/// The parts of an HTTP request that SigV4 covers, borrowed from whatever HTTP library holds
/// them. Nothing is decoded or normalised here: canonicalisation is the signer's and
/// verifier's job, and it must start from the bytes the client sent.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    /// The method, e.g. `POST` (compared as given: HTTP methods are case-sensitive).
    pub method: &'a str,
    /// The path exactly as on the wire, still percent-encoded, without the query.
    pub path: &'a str,
    /// The query string exactly as on the wire, without the leading `?`; empty if none.
    pub query: &'a str,
    /// All headers in arrival order. Names in any case; repeated names allowed.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The whole body.
    pub body: &'a [u8],
}

impl<'a> HttpRequest<'a> {
    /// All values of the header `name` (ASCII case-insensitive), in arrival order.
    pub fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a [u8]> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The first value of the header `name` as text, if present and valid UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&'a str> {
        self.header_values(name)
            .next()
            .and_then(|v| std::str::from_utf8(v).ok())
    }
}
