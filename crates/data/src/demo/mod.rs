//! A demo database for a new user (and for `serve --test`): three
//! synthetic but realistic scans, as plant-3d-vision would leave them.
//!
//! Each scan is one procedural plant ([`plant`]) photographed from a circle
//! of cameras ([`render`]), with the pipeline's outputs derived from the
//! same model ([`formats`]): COLMAP poses, point cloud, mesh, skeleton,
//! tree graph, angles and internodes. Output is deterministic (seeded). A
//! scan is written into a hidden staging directory and renamed into place,
//! so a reader never sees half a scan; JSON is written in Python's layout
//! (sorted keys, 4-space indent).

mod formats;
mod plant;
mod render;

use std::fs;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;
use serde_json::{json, Value};

use self::plant::{grow, Part, Shape, Species};
use self::render::{look_at, render_all, sample_part, Sample};
use crate::DataError;

const CENTER: [f64; 2] = [375.0, 350.0];
const RADIUS: f64 = 350.0;
const CAMERA_Z: f64 = -170.0;
const TARGET_Z: f64 = -248.0;
/// The soil surface, just above the bottom of the voxel bounding box.
const BASE_Z: f64 = -298.0;
const SPACING: f64 = 0.45;
const POT_RADIUS: f64 = 40.0;

const COLMAP: &str = "Colmap__True_None_0";
const POINT_CLOUD: &str = "PointCloud_1_0_1_0_False_4ce2e46446";
const MESH: &str = "TriangleMesh_9_most_connected_t_open3d_00e095c359";
const SKELETON: &str = "CurveSkeleton_out__TriangleMesh_6a92751c20";
const TREE: &str = "TreeGraph__False_CurveSkeleton_c304a2cc71";
const ANGLES: &str = "AnglesAndInternodes_1_0_1_0_False_2cd7f8ba1b";

/// What tells the demo scans apart.
struct DemoScan {
    id: &'static str,
    species: Species,
    seed: u64,
    images: usize,
    date: &'static str,
    plant_id: &'static str,
    genus: &'static str,
    species_name: &'static str,
    facility: &'static str,
    age_days: u32,
    manual_measures: bool,
}

const SCANS: [DemoScan; 3] = [
    DemoScan {
        id: "demo_arabidopsis_1",
        species: Species::Arabidopsis,
        seed: 1,
        images: 12,
        date: "2024-03-04 10:00:00",
        plant_id: "Col0_26_10_2023_A1",
        genus: "Arabidopsis",
        species_name: "Arabidopsis thaliana",
        facility: "Lyon indoor",
        age_days: 42,
        manual_measures: true,
    },
    DemoScan {
        id: "demo_arabidopsis_2",
        species: Species::Arabidopsis,
        seed: 2,
        images: 12,
        date: "2024-03-11 14:30:00",
        plant_id: "Col0_26_10_2023_A2",
        genus: "Arabidopsis",
        species_name: "Arabidopsis thaliana",
        facility: "Lyon indoor",
        age_days: 49,
        manual_measures: false,
    },
    DemoScan {
        id: "demo_tomato_1",
        species: Species::Tomato,
        seed: 3,
        images: 16,
        date: "2024-05-21 09:15:00",
        plant_id: "MoneyMaker_T1",
        genus: "Solanum",
        species_name: "Solanum lycopersicum",
        facility: "Montpellier greenhouse",
        age_days: 35,
        manual_measures: false,
    },
];

/// Writes the demo scans into the FSDB at `root` (created, with its
/// `romidb` marker, if missing), skipping ids that exist; returns the ids
/// it created.
pub fn write_demo_database(root: &Path) -> Result<Vec<String>, DataError> {
    let io = |e| DataError::io("Could not prepare the demo database", e);
    fs::create_dir_all(root).map_err(io)?;
    let marker = root.join("romidb");
    if fs::symlink_metadata(&marker).is_err() {
        fs::write(&marker, b"").map_err(io)?;
    }
    let mut created = Vec::new();
    for spec in &SCANS {
        if fs::symlink_metadata(root.join(spec.id)).is_ok() {
            continue;
        }
        write_scan(root, spec)?;
        created.push(spec.id.to_string());
    }
    Ok(created)
}

/// Builds the scan in `.<id>.demo-tmp` and renames it into place.
fn write_scan(root: &Path, spec: &DemoScan) -> Result<(), DataError> {
    let io = |e| DataError::io(format!("Could not write the demo scan {}", spec.id), e);
    let staging = root.join(format!(".{}.demo-tmp", spec.id));
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(io)?;
    }
    fs::create_dir(&staging).map_err(io)?;
    let result = build_scan(&staging, spec)
        .and_then(|()| fs::rename(&staging, root.join(spec.id)).map_err(io));
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result
}

fn build_scan(dir: &Path, spec: &DemoScan) -> Result<(), DataError> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let plant = grow(spec.species, [CENTER[0], CENTER[1], BASE_Z], &mut rng);
    let mut samples = Vec::new();
    for part in plant.parts() {
        sample_part(part, SPACING, &mut rng, &mut samples);
    }
    let mut scene = samples.clone();
    scene.extend(pot(&mut rng));
    let mut scan = ScanWriter::new(dir);

    let target = [CENTER[0], CENTER[1], TARGET_Z];
    let cameras: Vec<_> = (0..spec.images)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / spec.images as f64;
            look_at(
                [
                    CENTER[0] + RADIUS * a.cos(),
                    CENTER[1] + RADIUS * a.sin(),
                    CAMERA_Z,
                ],
                target,
            )
        })
        .collect();
    let mut names = Vec::new();
    for (i, (camera, jpeg)) in cameras
        .iter()
        .zip(render_all(&scene, &cameras)?)
        .enumerate()
    {
        let id = format!("{i:05}_rgb");
        names.push(scan.file("images", &id, "jpg", &jpeg)?);
        scan.json(
            &format!("metadata/images/{id}.json"),
            &formats::image_metadata(i, camera),
        )?;
    }
    let [cams, images, points] = formats::colmap(&cameras, &names, &samples);
    scan.json_file(COLMAP, "cameras", &cams)?;
    scan.json_file(COLMAP, "images", &images)?;
    scan.json_file(COLMAP, "points3D", &points)?;
    scan.file(
        POINT_CLOUD,
        "PointCloud",
        "ply",
        &formats::point_cloud_ply(&samples, &mut rng),
    )?;
    scan.file(MESH, "TriangleMesh", "ply", &formats::mesh_ply(&plant))?;
    scan.json_file(SKELETON, "CurveSkeleton", &formats::skeleton(&plant))?;
    scan.json_file(TREE, "TreeGraph", &formats::tree_graph(&plant))?;
    let (automated, manual) = formats::angles_and_internodes(&plant, &mut rng);
    scan.json_file(ANGLES, "AnglesAndInternodes", &automated)?;
    if spec.manual_measures {
        scan.json("measures.json", &manual)?;
    }
    scan.json("metadata/images.json", &json!({"channels": ["rgb"]}))?;
    for fileset in [COLMAP, POINT_CLOUD, MESH, SKELETON, TREE, ANGLES] {
        scan.json(&format!("metadata/{fileset}.json"), &json!({}))?;
    }
    scan.json("metadata/metadata.json", &scan_metadata(spec))?;
    scan.write("pipeline.toml", PIPELINE_TOML.as_bytes())?;
    scan.finish()
}

/// A terracotta pot with soil, seen in the photos but not reconstructed.
fn pot(rng: &mut StdRng) -> Vec<Sample> {
    let (cx, cy) = (CENTER[0], CENTER[1]);
    let wall = Part {
        axis: vec![[cx, cy, BASE_Z - 42.0], [cx, cy, BASE_Z - 1.0]],
        shape: Shape::Tube(POT_RADIUS),
        color: [176, 98, 64],
    };
    let mut out = Vec::new();
    sample_part(&wall, 1.2, rng, &mut out);
    let mut r = 0.0;
    while r < POT_RADIUS {
        let n = ((std::f64::consts::TAU * r / 1.2).ceil() as usize).max(1);
        for k in 0..n {
            let a = std::f64::consts::TAU * k as f64 / n as f64;
            let shade = 0.8 + 0.4 * plant::normal(rng, 0.25).clamp(-0.5, 0.5);
            let color = [84.0, 62.0, 44.0].map(|c: f64| (c * shade) as u8);
            let p = [cx + r * a.cos(), cy + r * a.sin(), BASE_Z - 1.5];
            out.push(Sample {
                p,
                normal: [0.0, 0.0, 1.0],
                color,
                size: 1.2,
            });
        }
        r += 1.2;
    }
    out
}

fn scan_metadata(spec: &DemoScan) -> Value {
    json!({
        "acquisition_date": spec.date,
        "biologicalMaterial": {
            "biologicalMaterialId": spec.plant_id,
            "organism": {"genus": spec.genus, "species": spec.species_name},
            "ageDays": spec.age_days,
        },
        "study": {
            "identifier": "plantdb-demo",
            "title": "PlantDB demo database",
            "growthFacility": {"name": spec.facility, "country": "France"},
        },
        "object": {"species": spec.species_name, "plant_id": spec.plant_id, "environment": spec.facility},
        "ScanPath": {
            "class_name": "Circle",
            "kwargs": {"center_x": 375, "center_y": 350, "radius": 350, "n_points": spec.images, "z": -170},
        },
        "hardware": {"camera": "virtual RGB camera, 640x480", "frame": "demo"},
        "description": "Synthetic demo scan: a procedural plant, not a real acquisition.",
    })
}

const PIPELINE_TOML: &str = "\
# Parameters of the (simulated) plant-3d-vision run that produced this demo scan.
[Colmap]
matcher = \"exhaustive\"
camera_model = \"OPENCV\"
compute_dense = false

[Voxels]
type = \"carving\"
voxel_size = 1.0
bounding_box = { x = [225, 525], y = [200, 500], z = [-300, 100] }

[PointCloud]
level_set_value = 1.0

[TriangleMesh]
library = \"open3d\"
filtering = \"most connected triangles\"

[AnglesAndInternodes]
organ_type = \"fruit\"
characteristic_length = 1.0
";

/// Writes a scan's files and remembers them for `files.json`.
struct ScanWriter {
    dir: PathBuf,
    filesets: Vec<(String, Vec<(String, String)>)>,
}

impl ScanWriter {
    fn new(dir: &Path) -> Self {
        ScanWriter {
            dir: dir.to_path_buf(),
            filesets: Vec::new(),
        }
    }

    fn write(&self, rel: &str, bytes: &[u8]) -> Result<(), DataError> {
        let path = self.dir.join(rel);
        let io = |e| DataError::io("Could not write a demo scan file", e);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io)?;
        }
        fs::write(path, bytes).map_err(io)
    }

    fn json(&self, rel: &str, value: &Value) -> Result<(), DataError> {
        self.write(rel, &python_json(value)?)
    }

    /// Writes `<fileset>/<id>.<ext>`, returning the file name.
    fn file(
        &mut self,
        fileset: &str,
        id: &str,
        ext: &str,
        bytes: &[u8],
    ) -> Result<String, DataError> {
        let name = format!("{id}.{ext}");
        self.write(&format!("{fileset}/{name}"), bytes)?;
        let entry = (id.to_string(), name.clone());
        match self.filesets.iter_mut().find(|(fs, _)| fs == fileset) {
            Some((_, files)) => files.push(entry),
            None => self.filesets.push((fileset.to_string(), vec![entry])),
        }
        Ok(name)
    }

    fn json_file(&mut self, fileset: &str, id: &str, value: &Value) -> Result<(), DataError> {
        self.file(fileset, id, "json", &python_json(value)?)
            .map(drop)
    }

    fn finish(self) -> Result<(), DataError> {
        let filesets: Vec<Value> = self
            .filesets
            .iter()
            .map(|(id, files)| {
                let files: Vec<Value> = files
                    .iter()
                    .map(|(f, name)| json!({"id": f, "file": name}))
                    .collect();
                json!({"id": id, "files": files})
            })
            .collect();
        self.json("files.json", &json!({ "filesets": filesets }))
    }
}

/// JSON as Python's `json.dump(..., sort_keys=True, indent=4)` writes it.
fn python_json(value: &Value) -> Result<Vec<u8>, DataError> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    sorted(value)
        .serialize(&mut ser)
        .map_err(|_| DataError::Corrupt("A demo JSON document could not be written".into()))?;
    Ok(out)
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn python_json_sorts_keys_and_indents_by_four() {
        let text =
            python_json(&json!({"id": "images", "files": [{"id": "a", "file": "a.jpg"}], "e": []}))
                .unwrap();
        let expected = "{\n    \"e\": [],\n    \"files\": [\n        {\n            \"file\": \"a.jpg\",\n            \"id\": \"a\"\n        }\n    ],\n    \"id\": \"images\"\n}";
        assert_eq!(String::from_utf8(text).unwrap(), expected);
    }

    #[test]
    fn the_pipeline_toml_parses_with_the_bounding_box() {
        let doc: toml::Table = PIPELINE_TOML.parse().unwrap();
        let z = &doc["Voxels"]["bounding_box"]["z"];
        assert_eq!(z.as_array().unwrap()[0].as_integer(), Some(-300));
    }

    #[test]
    fn a_scan_is_byte_for_byte_deterministic() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        build_scan(a.path(), &SCANS[1]).unwrap();
        build_scan(b.path(), &SCANS[1]).unwrap();
        for rel in [
            "files.json",
            "images/00003_rgb.jpg",
            "metadata/images/00003_rgb.json",
            "PointCloud_1_0_1_0_False_4ce2e46446/PointCloud.ply",
            "AnglesAndInternodes_1_0_1_0_False_2cd7f8ba1b/AnglesAndInternodes.json",
        ] {
            let read = |dir: &Path| fs::read(dir.join(rel)).unwrap();
            assert!(read(a.path()) == read(b.path()), "{rel}");
        }
    }

    #[test]
    fn demo_ids_are_valid_new_ids() {
        for spec in &SCANS {
            assert!(crate::ids::is_new_id(spec.id), "{}", spec.id);
        }
    }
}
