//! Read use-cases: listings, scan info, metadata, filesets, files (data-api.md §3, §5, §6).

use std::path::PathBuf;
use std::sync::Arc;

use plantdb_auth_core::model::Permission;
use plantdb_data::filter::{self, Filter, SortOrder};
use plantdb_data::fsdb::index::CachedScan;
use plantdb_data::fsdb::{paths, timelapse, Fileset};
use plantdb_data::scan_info::{self, Generation, ScanInfo};
use plantdb_data::{ids, media_types, DataError};
use serde_json::{Map, Value};

use super::{Access, DataService};
use crate::AuthError;

/// The parameters of a listing route, parsed at the edge.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// `filterQuery` (or its alias `query`): a JSON object.
    pub filter: Option<Map<String, Value>>,
    pub fuzzy: bool,
    pub timelapse_id: Option<String>,
    pub sort: SortOrder,
    /// The viewer's search box text (a `filterQuery` that is not JSON on
    /// the viewer generation, §13.1).
    pub text_search: Option<String>,
}

impl ListQuery {
    fn filter(&self) -> Result<Option<Filter>, AuthError> {
        let mut query = self.filter.clone();
        if let Some(tl) = &self.timelapse_id {
            let q = query.get_or_insert_with(Map::new);
            filter::add_timelapse_id(q, tl);
        }
        match query {
            Some(q) if !q.is_empty() => Ok(Some(Filter::new(q, self.fuzzy)?)),
            _ => Ok(None),
        }
    }
}

/// What a metadata route addresses.
#[derive(Debug, Clone)]
pub enum Level {
    Scan(String),
    Fileset(String, String),
    File(String, String, String),
}

impl Level {
    fn scan_id(&self) -> &str {
        match self {
            Level::Scan(s) | Level::Fileset(s, _) | Level::File(s, _, _) => s,
        }
    }
}

/// A file to send: where it is, its name and type.
#[derive(Debug, Clone)]
pub struct ServedFile {
    pub path: PathBuf,
    pub name: String,
    pub content_type: &'static str,
}

impl ServedFile {
    pub fn new(path: PathBuf, name: &str) -> ServedFile {
        ServedFile {
            content_type: media_types::for_file_name(name),
            name: name.to_string(),
            path,
        }
    }
}

pub(crate) fn fileset_of<'a>(scan: &'a CachedScan, fs: &str) -> Result<&'a Fileset, AuthError> {
    ids::lookup("fileset", fs)?;
    scan.data.fileset(fs).ok_or_else(|| {
        AuthError::NotFound(format!(
            "Unknown fileset id '{fs}' in scan '{}': list them with GET /api/v1/scans/{}/filesets",
            scan.data.id(),
            scan.data.id()
        ))
    })
}

impl DataService {
    /// A scan the caller may `permission`: 400 bad id, 404 unknown, 403.
    pub(crate) fn scan_for(
        &self,
        access: &Access,
        id: &str,
        permission: Permission,
    ) -> Result<Arc<CachedScan>, AuthError> {
        ids::lookup("scan", id)?;
        let scan = match self.index.scan(id) {
            Ok(scan) => scan,
            Err(DataError::Corrupt(reason)) => {
                tracing::warn!(scan = %id, %reason, "request for a broken scan");
                return Err(AuthError::NotFound(format!(
                    "Scan '{id}' cannot be read: its files.json is damaged (the server log tells why)"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        access.require(&scan.data, permission)?;
        Ok(scan)
    }

    fn info_of(&self, scan: &CachedScan, generation: Generation) -> Arc<ScanInfo> {
        let key = match generation {
            Generation::Current => "scan-info-current",
            Generation::Viewer => "scan-info-viewer",
        };
        let prefix = self.settings.url_prefix.clone();
        scan.derived(key, move |data| scan_info::build(data, generation, &prefix))
    }

    /// The readable scans matching a listing query, in the query's order.
    fn matching(
        &self,
        access: &Access,
        query: &ListQuery,
    ) -> Result<Vec<Arc<CachedScan>>, AuthError> {
        let filter = query.filter()?;
        let (scans, broken) = self.index.all_scans();
        if !broken.is_empty() {
            tracing::debug!(count = broken.len(), "broken scans left out of a listing");
        }
        let mut out: Vec<Arc<CachedScan>> = scans
            .into_iter()
            .filter(|s| access.can(&s.data, Permission::Read))
            .filter(|s| filter.as_ref().is_none_or(|f| f.matches(&s.data.metadata)))
            .collect();
        if let Some(text) = &query.text_search {
            out.retain(|s| {
                let info = self.info_of(s, Generation::Viewer);
                let md = &info.doc["metadata"];
                filter::text_search_matches(text, s.data.id(), &md["plant"], &md["species"])
            });
        }
        if query.sort == SortOrder::TimelapseScheduled {
            out.sort_by_cached_key(|s| filter::timelapse_sort_key(&s.data.metadata));
        }
        Ok(out)
    }

    /// `GET /scans`: ids of readable scans.
    pub fn list_scans(&self, access: &Access, query: &ListQuery) -> Result<Vec<String>, AuthError> {
        Ok(self
            .matching(access, query)?
            .iter()
            .map(|s| s.data.id().to_string())
            .collect())
    }

    /// `GET /scans/info`: scan-info documents of readable scans.
    pub fn scans_info(
        &self,
        access: &Access,
        query: &ListQuery,
        generation: Generation,
    ) -> Result<Vec<Arc<ScanInfo>>, AuthError> {
        Ok(self
            .matching(access, query)?
            .iter()
            .map(|s| self.info_of(s, generation))
            .collect())
    }

    /// `GET /scans/<id>`.
    pub fn scan_info(
        &self,
        access: &Access,
        id: &str,
        generation: Generation,
    ) -> Result<Arc<ScanInfo>, AuthError> {
        let scan = self.scan_for(access, id, Permission::Read)?;
        Ok(self.info_of(&scan, generation))
    }

    /// `GET .../metadata[?key=]` at any level.
    pub fn metadata(
        &self,
        access: &Access,
        level: &Level,
        key: Option<&str>,
    ) -> Result<Value, AuthError> {
        let scan = self.scan_for(access, level.scan_id(), Permission::Read)?;
        let map = match level {
            Level::Scan(_) => scan.data.metadata.clone(),
            Level::Fileset(_, fs) => {
                fileset_of(&scan, fs)?;
                scan.data.fileset_metadata(fs)?
            }
            Level::File(_, fs, f) => {
                let fileset = fileset_of(&scan, fs)?;
                ids::lookup("file", f)?;
                fileset.file(f).ok_or_else(|| unknown_file(fs, f))?;
                scan.data.file_metadata(fs, f)?
            }
        };
        Ok(match key {
            None => Value::Object(map),
            Some(k) => map
                .get(k)
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new())),
        })
    }

    /// `GET /scans/<id>/filesets`: fileset ids, filtered on their metadata.
    pub fn filesets(
        &self,
        access: &Access,
        scan: &str,
        query: &ListQuery,
    ) -> Result<Vec<String>, AuthError> {
        let scan = self.scan_for(access, scan, Permission::Read)?;
        let filter = query.filter()?;
        let mut out = Vec::new();
        for fs in &scan.data.filesets {
            if let Some(f) = &filter {
                if !f.matches(&scan.data.fileset_metadata(&fs.id)?) {
                    continue;
                }
            }
            out.push(fs.id.clone());
        }
        Ok(out)
    }

    /// `GET /filesets/<scan>/<fs>/files`: file ids, filtered on their metadata.
    pub fn files(
        &self,
        access: &Access,
        scan: &str,
        fs: &str,
        query: &ListQuery,
    ) -> Result<Vec<String>, AuthError> {
        let scan = self.scan_for(access, scan, Permission::Read)?;
        let fileset = fileset_of(&scan, fs)?;
        let filter = query.filter()?;
        let mut out = Vec::new();
        for file in &fileset.files {
            if let Some(f) = &filter {
                if !f.matches(&scan.data.file_metadata(fs, &file.id)?) {
                    continue;
                }
            }
            out.push(file.id.clone());
        }
        Ok(out)
    }

    /// `GET /files/<scan>/<fs>/<file>`: the file's bytes.
    pub fn file(
        &self,
        access: &Access,
        scan: &str,
        fs: &str,
        file: &str,
    ) -> Result<ServedFile, AuthError> {
        let scan = self.scan_for(access, scan, Permission::Read)?;
        let fileset = fileset_of(&scan, fs)?;
        ids::lookup("file", file)?;
        let entry = fileset.file(file).ok_or_else(|| unknown_file(fs, file))?;
        let path = paths::data_file(&scan, fs, &entry.file)?;
        Ok(ServedFile::new(path, &entry.file))
    }

    /// `GET /api/v1/assets/files/<path>` and 0.14 `/files/<path>` (§3.3).
    pub fn file_path(&self, access: &Access, path: &str) -> Result<ServedFile, AuthError> {
        let resolved = paths::resolve(&self.index, path)?;
        access.require(&resolved.scan.data, Permission::Read)?;
        Ok(ServedFile::new(resolved.path, &resolved.name))
    }

    /// `GET /refresh[?scan_id=]`: the message to answer.
    pub fn refresh(&self, scan: Option<&str>) -> Result<String, AuthError> {
        match scan {
            None => {
                let listing = self.index.refresh();
                Ok(format!(
                    "Successfully reloaded entire database with {} scans.",
                    listing.scans.len()
                ))
            }
            Some(id) => {
                ids::lookup("scan", id)?;
                match self.index.refresh_scan(id) {
                    Ok(_) => Ok(format!("Successfully reloaded scan '{id}'.")),
                    Err(DataError::Corrupt(_)) => Err(AuthError::InvalidInput(format!(
                        "Scan '{id}' cannot be reloaded: its files.json is damaged (the server log tells why)"
                    ))),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    /// `GET /timelapses`: ids, sorted.
    pub fn timelapses(&self) -> Vec<String> {
        self.index.listing().timelapses.keys().cloned().collect()
    }

    /// `GET /timelapses/<id>`.
    pub fn timelapse(&self, id: &str) -> Result<Value, AuthError> {
        ids::lookup("timelapse", id)?;
        let listing = self.index.listing();
        let dir = match listing.timelapses.get(id) {
            Some(dir) => dir.clone(),
            None => self
                .index
                .refresh()
                .timelapses
                .get(id)
                .cloned()
                .ok_or_else(|| {
                    AuthError::NotFound(format!(
                        "Unknown timelapse id '{id}': list them with GET /api/v1/timelapses"
                    ))
                })?,
        };
        let marker = timelapse::read_marker(&dir, id)?;
        let (scans, _) = self.index.all_scans();
        let members = scans
            .iter()
            .filter(|s| {
                s.data
                    .metadata
                    .get("timelapse")
                    .and_then(|t| t.get("id"))
                    .and_then(Value::as_str)
                    == Some(id)
            })
            .count();
        Ok(timelapse::to_document(id, &marker, members))
    }

    /// `GET /timelapses/<id>/scans`: readable member scans; `[]` for an unknown id.
    pub fn timelapse_scans(
        &self,
        access: &Access,
        id: &str,
        query: &ListQuery,
    ) -> Result<Vec<String>, AuthError> {
        ids::lookup("timelapse", id)?;
        let mut query = query.clone();
        query.timelapse_id = Some(id.to_string());
        self.list_scans(access, &query)
    }
}

pub(crate) fn unknown_file(fs: &str, file: &str) -> AuthError {
    AuthError::NotFound(format!(
        "Unknown file id '{}' in fileset '{fs}': list them with GET /api/v1/filesets/<scan>/{fs}/files",
        ids::printable(file)
    ))
}
