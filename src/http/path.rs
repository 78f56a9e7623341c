//! The path parameters of a request, as axum's `Path` reads them, but a
//! path that does not decode (a `%FF` that is no UTF-8) is answered like
//! any path nothing is served at: a 404 problem, not axum's plain-text 400.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::problem::Problem;

/// Path parameters, deserialized as axum's `Path` does.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(parameters)| Path(parameters))
            .map_err(|rejection| Problem::not_found(rejection.body_text()))
    }
}
