//! `GET /openapi.json`: the hand-written OpenAPI 3.1 description of every route.

use super::routes::Params;
use crate::http::{Body, Request, Response};
use crate::runtime::Runtime;

pub const DOCUMENT: &str = include_str!("openapi.json");

pub fn document(_: &Runtime, _: &Request, _: &Params) -> Response {
    Response::new(200, "application/json", Body::Static(DOCUMENT.as_bytes()))
        .with_header("Cache-Control", "no-cache")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;
    use crate::api::ROUTES;

    /// `(METHOD, path, auth)` from the route table, with `{x:path}` written as `{x}`.
    fn served() -> BTreeSet<(String, String, String)> {
        ROUTES
            .iter()
            .map(|r| {
                (
                    r.method.to_string(),
                    r.pattern.replace(":path}", "}"),
                    r.auth.name().to_string(),
                )
            })
            .collect()
    }

    fn described() -> BTreeSet<(String, String, String)> {
        let doc: Value = serde_json::from_str(DOCUMENT).expect("openapi.json is JSON");
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                if method == "parameters" {
                    continue;
                }
                let auth = op["x-picamd-auth"].as_str().unwrap_or("(missing)");
                out.insert((method.to_uppercase(), path.clone(), auth.to_string()));
            }
        }
        out
    }

    #[test]
    fn every_operation_lists_the_statuses_the_http_layer_answers() {
        let doc: Value = serde_json::from_str(DOCUMENT).expect("openapi.json is JSON");
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                if method == "parameters" {
                    continue;
                }
                let mut wanted = vec!["400", "408", "414", "431", "503"];
                if ["post", "put", "patch"].contains(&method.as_str()) {
                    wanted.extend(["413", "417"]);
                }
                for status in wanted {
                    assert!(
                        op["responses"].get(status).is_some(),
                        "{method} {path} does not list {status}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_served_route_is_described_and_every_described_route_is_served() {
        let (served, described) = (served(), described());
        let undocumented: Vec<_> = served.difference(&described).collect();
        let unserved: Vec<_> = described.difference(&served).collect();
        assert!(
            undocumented.is_empty() && unserved.is_empty(),
            "served but not described (or other auth): {undocumented:?}\n\
             described but not served (or other auth): {unserved:?}"
        );
    }
}
