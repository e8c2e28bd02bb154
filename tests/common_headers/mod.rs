//! The WebSocket handshake's header lists (`ws::handshake::extended_connect`) to and from the
//! `http` crate's requests and responses, which the HTTP/2 (`h2`) and HTTP/3 (`http3`) stacks
//! of the RFC 8441 / RFC 9220 tests take and give. The `:protocol` pseudo-header is each
//! stack's own request extension, passed in.
#![allow(dead_code)]

use http::{Method, Request, Response, StatusCode};

/// The header list the mapping reads, from a received request and its `:protocol`.
pub fn request_list<T>(req: &Request<T>, protocol: Option<&str>) -> Vec<(String, Vec<u8>)> {
    let mut list: Vec<(String, Vec<u8>)> = Vec::new();
    let mut pseudo = |n: &str, v: &str| list.push((n.into(), v.into()));
    pseudo(":method", req.method().as_str());
    if let Some(p) = protocol {
        pseudo(":protocol", p);
    }
    if let Some(s) = req.uri().scheme_str() {
        pseudo(":scheme", s);
    }
    if let Some(p) = req.uri().path_and_query() {
        pseudo(":path", p.as_str());
    }
    if let Some(a) = req.uri().authority() {
        pseudo(":authority", a.as_str());
    }
    for (name, value) in req.headers() {
        list.push((name.as_str().into(), value.as_bytes().into()));
    }
    list
}

/// A request from the mapping's header list; `protocol` adds the stack's `:protocol`.
pub fn build_request<'a>(
    list: impl Iterator<Item = (&'a str, &'a str)>,
    protocol: impl Fn(http::request::Builder, &str) -> http::request::Builder,
) -> Request<()> {
    let (mut scheme, mut authority, mut path) = ("", "", "");
    let mut builder = Request::builder();
    for (name, value) in list {
        match name {
            ":method" => builder = builder.method(Method::from_bytes(value.as_bytes()).unwrap()),
            ":protocol" => builder = protocol(builder, value),
            ":scheme" => scheme = value,
            ":authority" => authority = value,
            ":path" => path = value,
            _ => builder = builder.header(name, value),
        }
    }
    builder.uri(format!("{scheme}://{authority}{path}")).body(()).unwrap()
}

/// A response from the mapping's header list.
pub fn build_response<'a>(list: impl Iterator<Item = (&'a str, &'a str)>) -> Response<()> {
    let mut builder = Response::builder();
    for (name, value) in list {
        match name {
            ":status" => {
                builder = builder.status(StatusCode::from_bytes(value.as_bytes()).unwrap())
            }
            _ => builder = builder.header(name, value),
        }
    }
    builder.body(()).unwrap()
}

/// The header list the mapping reads, from a received response.
pub fn response_list<T>(resp: &Response<T>) -> Vec<(String, Vec<u8>)> {
    let mut list = vec![(":status".to_string(), resp.status().as_str().as_bytes().to_vec())];
    for (name, value) in resp.headers() {
        list.push((name.as_str().to_string(), value.as_bytes().to_vec()));
    }
    list
}
