//! `wgbert shaders`: every shader variant, listed or written to a folder.

use anyhow::Result;
use std::path::Path;

pub fn run(dump: Option<&Path>) -> Result<()> {
    match dump {
        Some(dir) => {
            let written = wgbert::shaders::dump(dir)?;
            println!(
                "wrote {} shader variants to {}",
                written.len(),
                dir.display()
            );
        }
        None => {
            for v in wgbert::kernels::ShaderVariant::all() {
                let d = wgbert::shaders::describe(&v, false);
                println!("{}  needs [{}]", d.name, d.needs.join(", "));
            }
        }
    }
    Ok(())
}
