//! Forward authentication, part one: what a proxied request asks for.
//! The original method and URI (as the proxy reports them) are mapped onto
//! the PlantDB routes of both generations (data-api.md §3.1, §4.2,
//! contract.md §3) and the permission the data API requires there. Pure
//! functions: no database, no token.

use std::str::FromStr;

use plantdb_auth_core::model::Permission;

/// What to answer for a request that maps to no PlantDB route
/// (`--authz-unmapped`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UnmappedPolicy {
    /// 200 for a valid token (no token is still 401).
    Allow,
    /// 403 for a valid token (no token is 401).
    #[default]
    Deny,
}

impl FromStr for UnmappedPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "allow" => Ok(UnmappedPolicy::Allow),
            "deny" => Ok(UnmappedPolicy::Deny),
            other => Err(format!("expected 'allow' or 'deny', got '{other}'")),
        }
    }
}

/// The HTTP methods the mapping knows; any other one is unmapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Head,
    Options,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    /// Methods are case-sensitive (RFC 9110): `get` is not `GET`.
    fn parse(text: &str) -> Option<Method> {
        Some(match text {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "OPTIONS" => Method::Options,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => return None,
        })
    }

    fn is_read(self) -> bool {
        matches!(self, Method::Get | Method::Head | Method::Options)
    }

    /// Read methods need `read`, POST/PUT/PATCH `write`, DELETE `delete`.
    fn permission(self) -> Permission {
        match self {
            Method::Get | Method::Head | Method::Options => Permission::Read,
            Method::Post | Method::Put | Method::Patch => Permission::Write,
            Method::Delete => Permission::Delete,
        }
    }
}

/// What a mapped request needs, as the data API decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Serves without looking at the token (health, Home, the auth
    /// routes, the viewer's files): anyone passes.
    Open,
    /// Needs no caller, but a token that is present must be valid
    /// (timelapse documents, data-api.md §2.3 last row).
    Public,
    /// A listing that leaves unreadable scans out: any caller (no token:
    /// the `guest` account).
    Listing,
    /// A permission on an existing scan.
    Scan { id: String, permission: Permission },
    /// A path inside the database (`<scan>/...` or `<timelapse>/<scan>/...`).
    File {
        path: Vec<String>,
        permission: Permission,
    },
    /// A scan to create (`create`; for an API token, granted on the id).
    NewScan(String),
    /// A timelapse to create (`create`).
    NewTimelapse,
    /// A timelapse to delete (`delete`).
    DeleteTimelapse(String),
}

/// The outcome of mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    Mapped(Target),
    /// No PlantDB route: `--authz-unmapped` decides.
    Unmapped,
    /// A path that tries to leave its route (`..`, encoded separators,
    /// control characters, bad escapes): always denied.
    Refused,
}

/// Maps an original request. `method` or `uri` absent: unmapped (a URI
/// without its method cannot tell a read from a write: nginx's and
/// Traefik's own verification requests are always GET). `prefix` is the
/// deployment prefix, stripped when the path carries it.
pub fn map_request(method: Option<&str>, uri: Option<&str>, prefix: &str) -> Mapping {
    let (Some(method), Some(uri)) = (method, uri) else {
        return Mapping::Unmapped;
    };
    let Ok(segments) = segments(uri) else {
        return Mapping::Refused;
    };
    let Some(method) = Method::parse(method) else {
        return Mapping::Unmapped;
    };
    let path = strip_prefix(&segments, prefix);
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    match route(&path, method) {
        Some(target) => Mapping::Mapped(target),
        None => Mapping::Unmapped,
    }
}

/// The decoded path segments of an origin-form URI (query and fragment
/// cut off). `Err` for anything odd: not starting with `/`, a backslash,
/// an empty segment before the last, a bad escape, non-UTF-8, a decoded
/// `/`, `\` or control character, a `.` or `..` segment.
fn segments(uri: &str) -> Result<Vec<String>, ()> {
    let end = uri.find(['?', '#']).unwrap_or(uri.len());
    let path = uri.get(..end).ok_or(())?;
    let rest = path.strip_prefix('/').ok_or(())?;
    if rest.contains('\\') {
        return Err(());
    }
    let raw: Vec<&str> = rest.split('/').collect();
    let last = raw.len().saturating_sub(1);
    let mut out = Vec::with_capacity(raw.len());
    for (i, segment) in raw.into_iter().enumerate() {
        if segment.is_empty() && i != last {
            return Err(());
        }
        let decoded = percent_decode(segment).ok_or(())?;
        let odd = decoded.contains(['/', '\\']) || decoded.chars().any(char::is_control);
        if odd || decoded == "." || decoded == ".." {
            return Err(());
        }
        out.push(decoded);
    }
    Ok(out)
}

/// `%XX` escapes (two hex digits each) to bytes, then UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let mut bytes = segment.bytes();
    let mut out = Vec::with_capacity(segment.len());
    while let Some(b) = bytes.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        let high = hex_digit(bytes.next()?)?;
        let low = hex_digit(bytes.next()?)?;
        out.push(high << 4 | low);
    }
    String::from_utf8(out).ok()
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// The path below the deployment prefix, when it starts with it.
fn strip_prefix<'a>(segments: &'a [String], prefix: &str) -> &'a [String] {
    let prefix: Vec<&str> = prefix
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let carries = !prefix.is_empty()
        && segments.len() >= prefix.len()
        && segments.iter().zip(&prefix).all(|(s, p)| s == p);
    if carries {
        segments.get(prefix.len()..).unwrap_or_default()
    } else {
        segments
    }
}

/// The auth routes of contract.md §3: they authenticate by themselves (a
/// login must pass without a token, even with a stale one).
fn is_auth_route(path: &[&str]) -> bool {
    matches!(
        path,
        ["api", "v1", "auth", "login" | "register" | "logout"]
            | [
                "api",
                "v1",
                "auth",
                "token",
                "validation" | "refresh" | "create-api-token"
            ]
            | ["login"
                | "register"
                | "logout"
                | "token-validation"
                | "token-refresh"
                | "create-api-token"]
    )
}

/// The route table (docs/api.md, "Forward authentication"). `None`: unmapped.
fn route(path: &[&str], method: Method) -> Option<Target> {
    let read = method.is_read();
    let on_scan = |id: &str| {
        Some(Target::Scan {
            id: id.to_string(),
            permission: method.permission(),
        })
    };
    // POST on a creation route creates; PUT/PATCH change the existing scan.
    let creation = |id: &str| match method {
        Method::Post => Some(Target::NewScan(id.to_string())),
        _ => on_scan(id),
    };
    let only_read = |target: Target| read.then_some(target);
    match path {
        [] | [""] | ["api", "v1"] | ["api", "v1", ""] => only_read(Target::Open),
        ["api", "v1", "health"] | ["health"] => only_read(Target::Open),
        ["viewer", ..] => only_read(Target::Open),
        p if is_auth_route(p) => Some(Target::Open),
        // A trailing slash is tolerated on Home only (data-api.md §10.3).
        p if p.iter().any(|s| s.is_empty()) => None,
        ["api", "v1", "refresh"] | ["refresh"] => only_read(Target::Listing),
        ["api", "v1", "scans"] | ["api", "v1", "scans", "info"] | ["scans"] | ["scans_info"] => {
            only_read(Target::Listing)
        }
        ["api", "v1", "scans", id] | ["scans", id] => creation(id),
        ["api", "v1", "scans", id, "metadata" | "filesets"] => on_scan(id),
        ["api", "v1", "timelapses"] => match method {
            Method::Post => Some(Target::NewTimelapse),
            m if m.is_read() => Some(Target::Public),
            _ => None,
        },
        ["api", "v1", "timelapses", tl] => match method {
            Method::Delete => Some(Target::DeleteTimelapse(tl.to_string())),
            m if m.is_read() => Some(Target::Public),
            _ => None,
        },
        ["api", "v1", "timelapses", _, "scans"] => only_read(Target::Listing),
        ["api", "v1", "filesets", id, _] => on_scan(id),
        ["api", "v1", "filesets", id, _, "metadata" | "files"] => on_scan(id),
        ["api", "v1", "files", id, _, _] | ["api", "v1", "files", id, _, _, "metadata"] => {
            on_scan(id)
        }
        ["api", "v1", "assets", "image", id, _, _] => on_scan(id),
        ["api", "v1", "assets", "pointcloud" | "mesh" | "skeleton" | "sequence", id] => on_scan(id),
        ["api", "v1", "assets", "archive", id] | ["archive", id] => creation(id),
        ["api", "v1", "assets", "files", rest @ ..] | ["files", rest @ ..] if !rest.is_empty() => {
            Some(Target::File {
                path: rest.iter().map(|s| s.to_string()).collect(),
                permission: method.permission(),
            })
        }
        ["image" | "pointcloud" | "pcGroundTruth" | "mesh", id, _, _] => on_scan(id),
        ["skeleton" | "sequence", id] => on_scan(id),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn scan(id: &str, permission: Permission) -> Mapping {
        Mapping::Mapped(Target::Scan {
            id: id.into(),
            permission,
        })
    }

    fn map(method: &str, uri: &str) -> Mapping {
        map_request(Some(method), Some(uri), "")
    }

    #[test]
    fn methods_choose_the_permission_on_the_scan() {
        use Permission::*;
        let table = [
            ("GET", "/api/v1/scans/s1", scan("s1", Read)),
            ("HEAD", "/api/v1/files/s1/images/f?x=1", scan("s1", Read)),
            ("OPTIONS", "/api/v1/scans/s1/metadata", scan("s1", Read)),
            ("POST", "/api/v1/scans/s1/metadata", scan("s1", Write)),
            ("POST", "/api/v1/filesets/s1/fs", scan("s1", Write)),
            ("POST", "/api/v1/files/s1/fs/f", scan("s1", Write)),
            ("PUT", "/api/v1/scans/s1", scan("s1", Write)),
            (
                "PATCH",
                "/api/v1/filesets/s1/fs/metadata",
                scan("s1", Write),
            ),
            ("DELETE", "/api/v1/scans/s1", scan("s1", Delete)),
            ("DELETE", "/api/v1/files/s1/fs/f", scan("s1", Delete)),
            ("GET", "/api/v1/assets/image/s1/images/f", scan("s1", Read)),
            ("GET", "/api/v1/assets/sequence/s1", scan("s1", Read)),
            ("GET", "/api/v1/assets/archive/s1", scan("s1", Read)),
            ("GET", "/image/s1/images/f.jpg?size=orig", scan("s1", Read)),
            ("GET", "/pcGroundTruth/s1/fs/f", scan("s1", Read)),
            ("GET", "/skeleton/s1", scan("s1", Read)),
            ("GET", "/scans/s1", scan("s1", Read)),
            ("GET", "/archive/s1", scan("s1", Read)),
            ("GET", "/api/v1/scans/a%2Db", scan("a-b", Read)),
        ];
        for (method, uri, want) in table {
            assert_eq!(map(method, uri), want, "{method} {uri}");
        }
    }

    #[test]
    fn creation_listing_and_public_routes() {
        let mapped = |t| Mapping::Mapped(t);
        let table = [
            (
                "POST",
                "/api/v1/scans/new",
                mapped(Target::NewScan("new".into())),
            ),
            (
                "POST",
                "/api/v1/assets/archive/new",
                mapped(Target::NewScan("new".into())),
            ),
            (
                "POST",
                "/archive/new",
                mapped(Target::NewScan("new".into())),
            ),
            ("POST", "/api/v1/timelapses", mapped(Target::NewTimelapse)),
            (
                "DELETE",
                "/api/v1/timelapses/t",
                mapped(Target::DeleteTimelapse("t".into())),
            ),
            ("GET", "/api/v1/timelapses/t", mapped(Target::Public)),
            ("GET", "/api/v1/timelapses", mapped(Target::Public)),
            ("GET", "/api/v1/timelapses/t/scans", mapped(Target::Listing)),
            ("GET", "/api/v1/scans", mapped(Target::Listing)),
            (
                "GET",
                "/api/v1/scans/info?filterQuery=%7B%7D",
                mapped(Target::Listing),
            ),
            ("GET", "/scans_info", mapped(Target::Listing)),
            ("GET", "/refresh?scan_id=s1", mapped(Target::Listing)),
            ("GET", "/api/v1/health", mapped(Target::Open)),
            ("GET", "/health", mapped(Target::Open)),
            ("GET", "/api/v1/", mapped(Target::Open)),
            ("GET", "/", mapped(Target::Open)),
            ("POST", "/api/v1/auth/login", mapped(Target::Open)),
            ("POST", "/token-refresh", mapped(Target::Open)),
            ("GET", "/viewer/static/app.js", mapped(Target::Open)),
        ];
        for (method, uri, want) in table {
            assert_eq!(map(method, uri), want, "{method} {uri}");
        }
    }

    #[test]
    fn file_paths_name_their_scan() {
        let want = Mapping::Mapped(Target::File {
            path: vec!["s1".into(), "metadata".into(), "metadata.json".into()],
            permission: Permission::Read,
        });
        assert_eq!(map("GET", "/files/s1/metadata/metadata.json"), want);
        assert_eq!(
            map("GET", "/api/v1/assets/files/s1/metadata/metadata.json"),
            want
        );
    }

    #[test]
    fn unknown_routes_and_methods_are_unmapped() {
        for (method, uri) in [
            ("GET", "/api/v1/users"),
            ("GET", "/api/v1/users/alice"),
            ("GET", "/static/scan.txt"),
            ("POST", "/api/v1/scans"),
            ("DELETE", "/api/v1/scans/info"),
            ("POST", "/api/v1/health"),
            ("PUT", "/api/v1/timelapses/t"),
            ("GET", "/api/v1/scans/"),
            ("GET", "/files/"),
            ("PROPFIND", "/api/v1/scans/s1"),
            ("get", "/api/v1/scans/s1"),
        ] {
            assert_eq!(map(method, uri), Mapping::Unmapped, "{method} {uri}");
        }
        assert_eq!(map_request(None, Some("/scans/s1"), ""), Mapping::Unmapped);
        assert_eq!(map_request(Some("GET"), None, ""), Mapping::Unmapped);
    }

    #[test]
    fn traversal_and_odd_paths_are_refused() {
        for uri in [
            "/files/../users.json",
            "/files/%2e%2e/users.json",
            "/files/%2E%2E/users.json",
            "/files/s1/./files.json",
            "/files/s1%2f..%2f..%2fusers.json",
            "/files/s1%5c..%5cusers.json",
            "/files/s1\\..\\users.json",
            "/files//etc/passwd",
            "/files/s1/%00",
            "/files/s1/%zz",
            "/files/s1/%2",
            "/files/s1/%+f",
            "/files/s1/%ff",
            "files/s1/x",
            "http://host/files/s1/x",
            "",
        ] {
            assert_eq!(map("GET", uri), Mapping::Refused, "{uri}");
        }
        // A method the mapping does not know does not hide a traversal.
        assert_eq!(map("PROPFIND", "/files/../x"), Mapping::Refused);
    }

    #[test]
    fn the_deployment_prefix_is_stripped_when_present() {
        let want = scan("s1", Permission::Read);
        assert_eq!(
            map_request(Some("GET"), Some("/plantdb/api/v1/scans/s1"), "/plantdb"),
            want
        );
        assert_eq!(
            map_request(Some("GET"), Some("/api/v1/scans/s1"), "/plantdb/"),
            want
        );
        assert_eq!(
            map_request(Some("GET"), Some("/plantdb"), "/plantdb"),
            Mapping::Mapped(Target::Open)
        );
    }

    #[test]
    fn the_policy_parses_case_insensitively() {
        assert_eq!(
            "Allow".parse::<UnmappedPolicy>().unwrap(),
            UnmappedPolicy::Allow
        );
        assert_eq!(
            "deny".parse::<UnmappedPolicy>().unwrap(),
            UnmappedPolicy::Deny
        );
        assert!("maybe".parse::<UnmappedPolicy>().is_err());
        assert_eq!(UnmappedPolicy::default(), UnmappedPolicy::Deny);
    }
}
