//! The authenticated endpoints' routes, matched by hand.
//!
//! All of them share one shape, `/customer/{cid}/account/{aid}/analysis[/{executionId}]`,
//! so a few string splits recognise them without a router: no path-parameter allocations,
//! no extractors, and no boxed handler futures on every signed request. Matching happens
//! before authentication, so an unknown route or method is refused with API Gateway's
//! `Missing Authentication Token` whoever sends it, as it was when axum routed these. One
//! difference from axum: a path with an empty parameter (`/customer//account/…`) is an
//! unknown route here, as in API Gateway; axum matched it and the handler answered 400.

use std::borrow::Cow;

use http::Method;

use crate::api_error::ApiError;

/// Which endpoint a request is for, with its own path parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint<'a> {
    /// `POST …/analysis`: queue an analysis.
    Trigger,
    /// `GET …/analysis`: the account's executions.
    List,
    /// `GET …/analysis/{executionId}`: one execution (its id segment, as sent).
    Get { execution: &'a str },
}

/// A request's endpoint and its path parameters, percent-encoded as they were sent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Route<'a> {
    pub(crate) endpoint: Endpoint<'a>,
    /// The method as the audit log records it: `POST`, `GET` or `HEAD`.
    pub(crate) method: &'static str,
    pub(crate) customer: &'a str,
    pub(crate) account: &'a str,
}

impl<'a> Route<'a> {
    /// The endpoint `method` and `path` name, if any. Literal segments compare as sent (not
    /// decoded), a trailing slash is a different (unknown) path, and `HEAD` is served as
    /// `GET`, as when axum routed these. A parameter is one non-empty segment: an empty one
    /// (`/customer//account/…`) names no resource, as in API Gateway, where axum 0.8's
    /// router matched it and the handler answered 400.
    pub(crate) fn parse(method: &Method, path: &'a str) -> Option<Self> {
        let rest = path.strip_prefix("/customer/")?;
        let (customer, rest) = rest.split_once('/')?;
        let rest = rest.strip_prefix("account/")?;
        let (account, rest) = rest.split_once('/')?;
        let execution = match rest.strip_prefix("analysis")? {
            "" => None,
            tail => Some(tail.strip_prefix('/')?),
        };
        let one_segment = |s: &str| !s.is_empty() && !s.contains('/');
        if customer.is_empty() || account.is_empty() || !execution.is_none_or(one_segment) {
            return None;
        }
        let (reads, method) = match *method {
            Method::POST => (false, "POST"),
            Method::GET => (true, "GET"),
            Method::HEAD => (true, "HEAD"),
            _ => return None,
        };
        let endpoint = match execution {
            None if !reads => Endpoint::Trigger,
            None => Endpoint::List,
            Some(execution) if reads => Endpoint::Get { execution },
            Some(_) => return None,
        };
        Some(Self {
            endpoint,
            method,
            customer,
            account,
        })
    }
}

/// A path parameter, percent-decoded (API Gateway decodes them too). `Err` is the 400 for a
/// segment that is not UTF-8 once decoded; it names the parameter without echoing it (the
/// segment may be kilobytes long).
pub(crate) fn decoded<'a>(raw: &'a str, name: &str) -> Result<Cow<'a, str>, ApiError> {
    // Ids are sent as they are: nothing to decode, and the text is already UTF-8.
    if !raw.contains('%') {
        return Ok(Cow::Borrowed(raw));
    }
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| {
            ApiError::bad_request(format!(
                "Invalid path: {name} is not UTF-8 once percent-decoded"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: Method, path: &str) -> Option<Route<'_>> {
        Route::parse(&method, path)
    }

    #[test]
    fn the_three_endpoints_are_recognised_with_their_raw_parameters() {
        let collection = "/customer/C123456/account/123456789012/analysis";
        assert_eq!(
            route(Method::POST, collection),
            Some(Route {
                endpoint: Endpoint::Trigger,
                method: "POST",
                customer: "C123456",
                account: "123456789012",
            })
        );
        for (method, name) in [(Method::GET, "GET"), (Method::HEAD, "HEAD")] {
            assert_eq!(
                route(method, collection).map(|r| (r.endpoint, r.method)),
                Some((Endpoint::List, name))
            );
        }
        let item = "/customer/C%31/account/x/analysis/ondemand-1";
        assert_eq!(
            route(Method::GET, item),
            Some(Route {
                endpoint: Endpoint::Get {
                    execution: "ondemand-1"
                },
                method: "GET",
                customer: "C%31",
                account: "x",
            })
        );
    }

    #[test]
    fn other_paths_and_methods_are_unknown() {
        let unknown = [
            (Method::DELETE, "/customer/C1/account/1/analysis"),
            (Method::PUT, "/customer/C1/account/1/analysis"),
            (Method::POST, "/customer/C1/account/1/analysis/e"),
            (Method::GET, "/customer/C1/account/1/analysis/"),
            (Method::GET, "/customer/C1/account/1/analysis/e/"),
            (Method::GET, "/customer/C1/account/1/analysis/e/f"),
            (Method::GET, "/customer/C1/account/1/analysisx"),
            (Method::GET, "/customer/C1/account/1/analyses"),
            (Method::GET, "/customer//account/1/analysis"),
            (Method::GET, "/customer/C1/account//analysis"),
            (Method::GET, "/customer/C1/account/1"),
            (Method::GET, "/customer/C1"),
            (Method::GET, "/customer/C1/Account/1/analysis"),
            (Method::GET, "/customer/C1/x/account/1/analysis"),
            (Method::GET, "/%63ustomer/C1/account/1/analysis"),
            (Method::GET, "//customer/C1/account/1/analysis"),
            (Method::GET, "/health"),
            (Method::GET, "/"),
            (Method::GET, ""),
        ];
        for (method, path) in unknown {
            assert_eq!(route(method.clone(), path), None, "{method} {path}");
        }
    }

    #[test]
    fn parameters_are_percent_decoded_and_must_be_utf8() {
        assert_eq!(decoded("C%31%32", "customerId").unwrap(), "C12");
        assert!(matches!(
            decoded("C123456", "customerId").unwrap(),
            Cow::Borrowed(_)
        ));
        let error = decoded("C%FF", "customerId").unwrap_err();
        assert_eq!(error.status, 400);
        assert_eq!(
            error.message,
            "Invalid path: customerId is not UTF-8 once percent-decoded"
        );
    }
}
