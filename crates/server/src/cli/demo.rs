//! `plantdb-auth demo DIR`: writes a few synthetic but realistic scans into
//! a PlantDB database directory (created if missing), so a new user can
//! see plants in the web viewer at once.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// The database directory (created, with its `romidb` marker, if missing or empty).
    pub dir: PathBuf,
}

pub fn execute(args: DemoArgs) -> anyhow::Result<()> {
    crate::database::prepare_root(&args.dir)?;
    let created = plantdb_data::demo::write_demo_database(&args.dir)
        .with_context(|| format!("cannot write the demo scans into {}", args.dir.display()))?;
    if created.is_empty() {
        println!("{} already holds the demo scans", args.dir.display());
    } else {
        println!(
            "wrote {} demo scans into {}: {}",
            created.len(),
            args.dir.display(),
            created.join(", ")
        );
    }
    println!(
        "serve them with: plantdb-auth serve --db {}",
        args.dir.display()
    );
    Ok(())
}
