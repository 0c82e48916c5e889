//! Query-string parameters of the data routes, parsed at the edge into the
//! service's typed commands. A repeated parameter is a 400, not a guess.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use plantdb_auth_service::data::read::ListQuery;
use plantdb_data::filter::{self, SortOrder};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// The decoded query string.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or("");
        Ok(Params(
            form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

impl Params {
    /// A parameter given at most once.
    pub fn get(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut found = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        let first = found.next();
        if found.next().is_some() {
            return Err(ApiError::bad_request(format!(
                "The query parameter '{name}' is given more than once: give it once"
            )));
        }
        Ok(first)
    }

    pub fn bool(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name)? {
            None => Ok(false),
            Some(text) => Ok(filter::parse_bool(name, text)?),
        }
    }

    /// `filterQuery` (or its alias `query`) of the URL, a JSON object.
    fn url_filter(&self) -> Result<Option<&str>, ApiError> {
        match (self.get("filterQuery")?, self.get("query")?) {
            (Some(_), Some(_)) => Err(ApiError::bad_request(
                "Give 'filterQuery' or its alias 'query', not both",
            )),
            (a, b) => Ok(a.or(b)),
        }
    }

    /// The listing parameters; `body` is the JSON body of the GET, whose
    /// `filterQuery` wins over the URL's (data-api.md §6.1, D4).
    pub fn list_query(
        &self,
        body: Option<&Map<String, Value>>,
        timelapse: bool,
        sort: bool,
    ) -> Result<ListQuery, ApiError> {
        let mut query = ListQuery {
            fuzzy: self.bool("fuzzy")?,
            ..ListQuery::default()
        };
        let from_body = body.and_then(|b| b.get("filterQuery"));
        query.filter = match from_body {
            Some(Value::Object(m)) => Some(m.clone()),
            Some(Value::Null) | None => match self.url_filter()? {
                Some(text) if !text.trim().is_empty() => Some(filter::parse_filter_text(text)?),
                _ => None,
            },
            Some(_) => {
                return Err(ApiError::bad_request(
                    "filterQuery must be a JSON object, e.g. {\"owner\": \"bob\"}",
                ))
            }
        };
        if timelapse {
            query.timelapse_id = self.get("timelapse_id")?.map(str::to_string);
        }
        if sort {
            query.sort = SortOrder::parse(self.get("sort")?);
        }
        Ok(query)
    }
}
