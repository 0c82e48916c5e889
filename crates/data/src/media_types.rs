//! Content types by file extension (data-api.md §10.1). Python guesses with
//! the host's `mimetypes`; ours is a fixed table so answers do not depend on
//! the machine.

/// The content type served for a file name.
pub fn for_file_name(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "tif" | "tiff" => "image/tiff",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "toml" => "application/toml",
        "yaml" | "yml" => "application/yaml",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

/// Extensions Pillow would open as an image and we decode.
pub fn is_image_name(name: &str) -> bool {
    matches!(
        for_file_name(name),
        "image/jpeg" | "image/png" | "image/tiff"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        assert_eq!(for_file_name("a.JPG"), "image/jpeg");
        assert_eq!(for_file_name("PointCloud.ply"), "application/octet-stream");
        assert_eq!(for_file_name("files.json"), "application/json");
        assert_eq!(for_file_name("x.p"), "application/octet-stream");
        assert_eq!(for_file_name("noext"), "application/octet-stream");
        assert!(is_image_name("00000_rgb.tif"));
        assert!(!is_image_name("cameras.txt"));
    }
}
