//! Write use-cases (data-api.md §8.2, §9): create scans, filesets, files
//! and timelapses, update metadata, install archives. Permissions follow
//! contract.md §1 and data-api.md §2.3; the disk side (Python-compatible
//! locks, atomic and durable writes) is `plantdb_data::fsdb::write`.

use std::path::Path;

use plantdb_auth_core::model::{GroupName, Permission, Username};
use plantdb_auth_core::rbac::ScanRef;
use plantdb_data::archive::{self, ArchiveLimits};
use plantdb_data::fsdb::write::{self, Author, MetadataTarget, ScanMetadataPolicy, Upload};
use plantdb_data::ids;
use serde_json::{Map, Value};
use tempfile::NamedTempFile;

use super::read::{fileset_of, Level};
use super::{Access, DataService};
use crate::{AuthDb, AuthError};

/// What a write request is about, checked before its body is read.
#[derive(Debug, Clone)]
pub enum WriteTarget {
    /// A scan to create (CREATE, for an API token on that id).
    NewScan(String),
    /// An existing scan written to (WRITE on it).
    Scan(String),
    /// A timelapse to create (CREATE).
    NewTimelapse,
}

/// A file to add to a fileset (`POST /api/v1/files/<scan>/<fs>/<file>`).
#[derive(Debug, Clone)]
pub struct NewFile {
    pub scan: String,
    pub fileset: String,
    pub file: String,
    /// The `ext` field: `jpg`, `.PNG`, ... (normalised by the writer).
    pub ext: String,
    pub metadata: Map<String, Value>,
}

fn author(access: &Access) -> Author {
    Author {
        username: access.user.username.as_str().to_string(),
        fullname: access.user.fullname.clone(),
    }
}

/// `sharing` as given: a string is a one-element list; every entry must
/// name an existing group.
fn check_sharing(db: &AuthDb, value: &Value) -> Result<Vec<String>, AuthError> {
    let names: Vec<String> = match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    AuthError::InvalidInput("'sharing' must be a list of group names".into())
                })
            })
            .collect::<Result<_, _>>()?,
        Value::Null => Vec::new(),
        _ => {
            return Err(AuthError::InvalidInput(
                "'sharing' must be a list of group names".into(),
            ))
        }
    };
    for name in &names {
        let known = GroupName::parse(name)
            .ok()
            .map(|g| db.groups.get(&g))
            .transpose()?
            .flatten()
            .is_some();
        if !known {
            return Err(AuthError::InvalidInput(format!(
                "'sharing' names the group '{}', which does not exist: create it first (POST /api/v1/groups)",
                ids::printable(name)
            )));
        }
    }
    Ok(names)
}

impl DataService {
    /// What a write route checks before reading its body (data-api.md §2.2:
    /// token, then existence and permission, then the body).
    pub fn check_write(&self, access: &Access, target: &WriteTarget) -> Result<(), AuthError> {
        match target {
            WriteTarget::NewScan(id) => {
                ids::new_id("scan", id)?;
                access.require_global(Permission::Create, id)
            }
            WriteTarget::Scan(id) => self.scan_for(access, id, Permission::Write).map(|_| ()),
            WriteTarget::NewTimelapse => {
                if access.user.has_permission(Permission::Create) {
                    Ok(())
                } else {
                    Err(AuthError::PermissionDenied(format!(
                        "Permission denied: user '{}' lacks the 'create' permission",
                        access.user.username
                    )))
                }
            }
        }
    }

    /// `POST /api/v1/scans/<id>` (§9.2).
    pub fn create_scan(
        &self,
        db: &AuthDb,
        access: &Access,
        id: &str,
        mut metadata: Map<String, Value>,
    ) -> Result<(), AuthError> {
        ids::new_id("scan", id)?;
        access.require_global(Permission::Create, id)?;
        if let Some(sharing) = metadata.get("sharing") {
            let names = check_sharing(db, sharing)?;
            metadata.insert("sharing".into(), Value::from(names));
        }
        write::validate_biological_metadata(&metadata)?;
        let timelapse = match metadata.get("timelapse") {
            Some(Value::Object(tl)) => match tl.get("id") {
                Some(Value::String(tl_id)) => {
                    ids::new_id("timelapse", tl_id)?;
                    Some(tl_id.clone())
                }
                Some(_) => {
                    return Err(AuthError::InvalidInput(
                        "'timelapse.id' must be a string naming an existing timelapse".into(),
                    ))
                }
                None => None,
            },
            _ => None,
        };
        if self.index.locate(id).is_ok() {
            return Err(AuthError::Conflict(format!("Scan '{id}' already exists")));
        }
        self.writer
            .create_scan(id, metadata, &author(access), timelapse.as_deref())?;
        self.index.mark_listing_stale();
        tracing::info!(scan = %id, by = %access.user.username, "scan created");
        Ok(())
    }

    /// `POST /api/v1/filesets/<scan>/<fs>` (§9.2).
    pub fn create_fileset(
        &self,
        access: &Access,
        scan: &str,
        fs: &str,
        metadata: Map<String, Value>,
    ) -> Result<(), AuthError> {
        let cached = self.scan_for(access, scan, Permission::Write)?;
        ids::new_id("fileset", fs)?;
        if cached.data.fileset(fs).is_some() {
            return Err(AuthError::Conflict(format!(
                "Fileset '{fs}' already exists in scan '{scan}'"
            )));
        }
        self.writer
            .create_fileset(cached.data.dir(), scan, fs, metadata, &author(access))?;
        self.index.invalidate(scan);
        Ok(())
    }

    /// Starts `POST /api/v1/files/<scan>/<fs>/<file>` (§9.3): checks what can
    /// be checked before the bytes arrive, and opens the hidden temporary
    /// file they stream into.
    pub fn begin_upload(
        &self,
        access: &Access,
        scan: &str,
        fs: &str,
        file: &str,
    ) -> Result<Upload, AuthError> {
        let cached = self.scan_for(access, scan, Permission::Write)?;
        let fileset = fileset_of(&cached, fs)?;
        ids::new_id("file", file)?;
        if fileset.file(file).is_some() {
            return Err(AuthError::Conflict(format!(
                "File '{file}' already exists in fileset '{fs}'"
            )));
        }
        Ok(self.writer.begin_upload(cached.data.dir(), fs)?)
    }

    /// Ends an upload: the bytes are in `upload`; the stored file name.
    pub fn commit_upload(
        &self,
        access: &Access,
        file: NewFile,
        upload: Upload,
    ) -> Result<String, AuthError> {
        let cached = self.scan_for(access, &file.scan, Permission::Write)?;
        fileset_of(&cached, &file.fileset)?;
        let name = self.writer.commit_file(
            cached.data.dir(),
            &file.scan,
            &file.fileset,
            &file.file,
            &file.ext,
            upload,
            file.metadata,
            &author(access),
        )?;
        self.index.invalidate(&file.scan);
        Ok(name)
    }

    /// `POST .../metadata` at any level (§9.5): the whole stored object after.
    pub fn update_metadata(
        &self,
        db: &AuthDb,
        access: &Access,
        level: &Level,
        patch: Map<String, Value>,
        replace: bool,
    ) -> Result<Map<String, Value>, AuthError> {
        let (scan_id, target) = match level {
            Level::Scan(s) => (s.as_str(), None),
            Level::Fileset(s, fs) => (s.as_str(), Some((fs.as_str(), None))),
            Level::File(s, fs, f) => (s.as_str(), Some((fs.as_str(), Some(f.as_str())))),
        };
        let cached = self.scan_for(access, scan_id, Permission::Write)?;
        let dir = cached.data.dir().to_path_buf();
        let (target, policy) = match target {
            None => {
                write::validate_biological_metadata(&patch)?;
                let policy =
                    self.scan_metadata_policy(db, access, &cached.data.metadata, &patch)?;
                (
                    MetadataTarget::Scan {
                        dir,
                        id: scan_id.to_string(),
                    },
                    policy,
                )
            }
            Some((fs, file)) => {
                let fileset = fileset_of(&cached, fs)?;
                match file {
                    None => (
                        MetadataTarget::Fileset {
                            dir,
                            scan_id: scan_id.to_string(),
                            fs: fs.to_string(),
                        },
                        ScanMetadataPolicy::default(),
                    ),
                    Some(f) => {
                        ids::lookup("file", f)?;
                        fileset
                            .file(f)
                            .ok_or_else(|| super::read::unknown_file(fs, f))?;
                        (
                            MetadataTarget::File {
                                dir,
                                scan_id: scan_id.to_string(),
                                fs: fs.to_string(),
                                file: f.to_string(),
                            },
                            ScanMetadataPolicy::default(),
                        )
                    }
                }
            }
        };
        let stored = self
            .writer
            .update_metadata(target, patch, replace, policy)?;
        self.index.invalidate(scan_id);
        Ok(stored)
    }

    /// Owner and sharing changes at scan level (contract.md §1, §9.5): an
    /// unchanged value is ignored; a new owner needs `manage_users` and an
    /// existing user; new sharing needs WRITE (held) and existing groups.
    fn scan_metadata_policy(
        &self,
        db: &AuthDb,
        access: &Access,
        stored: &Map<String, Value>,
        patch: &Map<String, Value>,
    ) -> Result<ScanMetadataPolicy, AuthError> {
        let mut policy = ScanMetadataPolicy::default();
        let old = ScanRef {
            id: String::new(),
            owner: stored
                .get("owner")
                .and_then(Value::as_str)
                .map(str::to_string),
            sharing: match stored.get("sharing") {
                Some(v) => check_sharing_lenient(v),
                None => Vec::new(),
            },
        };
        if let Some(owner) = patch.get("owner") {
            let owner = owner
                .as_str()
                .ok_or_else(|| AuthError::InvalidInput("'owner' must be a username".into()))?;
            // A different spelling of the same account is no change.
            if !owner.eq_ignore_ascii_case(old.owner()) {
                if !access.user.has_permission(Permission::ManageUsers) {
                    return Err(AuthError::PermissionDenied(
                        "Permission denied: changing the owner of a scan requires the manage_users permission".into(),
                    ));
                }
                // Stored as the account's (lower-case) name, as users.json has it.
                let user = Username::parse(owner)
                    .ok()
                    .map(|u| db.users.get(&u))
                    .transpose()?
                    .flatten()
                    .ok_or_else(|| {
                        AuthError::InvalidInput(format!(
                            "'owner' names the user '{}', which does not exist",
                            ids::printable(owner)
                        ))
                    })?;
                policy.owner = Some(user.username.as_str().to_string());
            }
        }
        if let Some(sharing) = patch.get("sharing") {
            let names = check_sharing(db, sharing)?;
            if names != old.sharing {
                policy.sharing = Some(names);
            }
        }
        Ok(policy)
    }

    /// `POST /api/v1/timelapses` (§9.2): the new timelapse document.
    pub fn create_timelapse(
        &self,
        access: &Access,
        id: &str,
        metadata: Map<String, Value>,
    ) -> Result<Value, AuthError> {
        ids::new_id("timelapse", id)?;
        access.require_global(Permission::Create, id)?;
        let marker = self
            .writer
            .create_timelapse(id, metadata, &author(access))?;
        self.index.mark_listing_stale();
        Ok(plantdb_data::fsdb::timelapse::to_document(id, &marker, 0))
    }

    /// `DELETE /api/v1/timelapses/<id>` (§3.2 #15): moved to `.trash/`.
    pub fn delete_timelapse(
        &self,
        access: &Access,
        id: &str,
        recursive: bool,
    ) -> Result<(), AuthError> {
        ids::lookup("timelapse", id)?;
        access.require_global(Permission::Delete, id)?;
        self.writer.delete_timelapse(id, recursive)?;
        self.index.refresh();
        Ok(())
    }

    /// Starts an archive upload (§8.2 steps 1-2): permission, id and
    /// existence are checked before any byte is read; the zip streams into
    /// a hidden temporary file, removed when dropped.
    pub fn begin_archive(&self, access: &Access, id: &str) -> Result<NamedTempFile, AuthError> {
        self.check_new_archive(access, id)?;
        let dir = self.writer.tmp_dir()?;
        tempfile::Builder::new()
            .prefix(".archive.")
            .suffix(".zip.tmp")
            .tempfile_in(&dir)
            .map_err(|e| AuthError::Internal(format!("creating an upload file: {e}")))
    }

    fn check_new_archive(&self, access: &Access, id: &str) -> Result<(), AuthError> {
        access.require_global(Permission::Create, id)?;
        ids::new_id("scan", id)?;
        if self.index.locate(id).is_ok() || self.index.root().join(id).exists() {
            return Err(AuthError::Conflict(format!(
                "Dataset '{id}' already exists"
            )));
        }
        Ok(())
    }

    /// `POST /api/v1/assets/archive/<id>` (§8.2): the zip is in `zip`.
    pub fn upload_archive(
        &self,
        db: &AuthDb,
        access: &Access,
        id: &str,
        zip: NamedTempFile,
        limits: &ArchiveLimits,
    ) -> Result<Vec<String>, AuthError> {
        self.check_new_archive(access, id)?;
        let zip_path: &Path = zip.path();
        let staging = self.writer.staging_dir()?;
        let outcome = (|| {
            let files = archive::extract_scan_archive(zip_path, &staging, limits)?;
            let groups: Vec<String> = db
                .groups
                .list()?
                .into_iter()
                .map(|g| g.name.as_str().to_string())
                .collect();
            let keep_owner = access
                .user
                .has_permission(Permission::ManageUsers)
                .then(|| known_users(db))
                .transpose()?;
            self.writer.install_archive(
                &staging,
                id,
                &author(access),
                keep_owner.as_deref(),
                &groups,
            )?;
            Ok::<_, AuthError>(files)
        })();
        if outcome.is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        let files = outcome?;
        self.index.mark_listing_stale();
        Ok(files)
    }
}

fn check_sharing_lenient(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn known_users(db: &AuthDb) -> Result<Vec<String>, AuthError> {
    Ok(db
        .users
        .list()?
        .into_iter()
        .map(|u| u.username.as_str().to_string())
        .collect())
}
