//! `wgbert info`: adapter, features, limits, the model and how it embeds.

use super::args::ModelArgs;
use anyhow::Result;
use wgbert::GpuContext;

pub fn run(model: &ModelArgs) -> Result<()> {
    let ctx = GpuContext::new(&super::common::engine_options(model).gpu)?;
    let i = &ctx.info;
    println!("adapter      {}", i.name);
    println!("backend      {:?}", i.backend);
    println!("device type  {:?}", i.device_type);
    println!("driver       {} {}", i.driver, i.driver_info);
    println!("features     {:?}", ctx.features);
    println!("cooperative matrix  {}", ctx.coop_summary());
    println!(
        "subgroups    {}",
        if ctx.has(wgpu::Features::SUBGROUP) {
            format!(
                "{}..{} invocations",
                i.subgroup_min_size, i.subgroup_max_size
            )
        } else {
            "none".to_string()
        }
    );
    let l = &ctx.limits;
    println!(
        "limits       max_storage_buffer_binding_size {} B, max_buffer_size {} B,",
        l.max_storage_buffer_binding_size, l.max_buffer_size
    );
    println!(
        "             max_compute_workgroup_storage_size {} B, max_compute_invocations_per_workgroup {}, max_compute_workgroups_per_dimension {}",
        l.max_compute_workgroup_storage_size,
        l.max_compute_invocations_per_workgroup,
        l.max_compute_workgroups_per_dimension
    );
    let dir = super::common::resolve_model_dir(model.model.as_deref());
    match wgbert::BertConfig::from_file(&dir.join("config.json")) {
        Ok(c) => println!(
            "model        {}: {}, {} layers, hidden {}, {} heads, intermediate {}, vocab {}, max positions {}, {}",
            dir.display(),
            c.model_type.as_deref().unwrap_or("bert"),
            c.num_hidden_layers,
            c.hidden_size,
            c.num_attention_heads,
            c.intermediate_size,
            c.vocab_size,
            c.max_position_embeddings,
            c.hidden_act
        ),
        Err(e) => println!("model        {} ({e})", dir.display()),
    }
    match wgbert::SentenceConfig::from_dir(&dir) {
        Ok(s) => println!("embedding    {}", s.describe()),
        Err(e) => println!("embedding    ({e})"),
    }
    Ok(())
}
