//! `wgbert bench`: whole forward passes, timed.

use anyhow::Result;

pub fn run(cfg: &wgbert::bench::BenchConfig, json: bool) -> Result<()> {
    let r = wgbert::bench::run(cfg)?;
    if json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!("adapter        {} ({}, {})", r.adapter, r.backend, r.driver);
        println!(
            "kernels        gemm {} (small M: {}), {}, {} reductions",
            r.gemm, r.gemm_small_m, r.attention, r.reduce
        );
        println!(
            "model          {} {} (batch {} x seq {}, fill {}, {} padding, ran seq {}){}",
            r.shape,
            r.precision,
            r.batch,
            r.seq_len,
            r.fill,
            r.padding,
            r.run_seq_len,
            if r.mlm {
                ", masked-word head (vocabulary logits read back)"
            } else if r.sparse {
                ", SPLADE sparse vectors (masked-word head pooled on the GPU)"
            } else {
                ""
            }
        );
        println!(
            "load           {:.3} s; first forward {:.3} s",
            r.load_s, r.first_forward_s
        );
        println!(
            "median         {:.4} s (min {:.4} s, {} iters)",
            r.median_s, r.min_s, r.iters
        );
        println!(
            "throughput     {:.2} seq/s, {:.1} real tokens/s, {:.2} GFLOP/s",
            r.seq_per_s, r.real_tokens_per_s, r.gflop_per_s
        );
        if let Some(rows) = &r.profile {
            println!("profile        GPU time of one forward, by kernel:");
            for row in rows {
                println!(
                    "  {:<40} {:>4} calls {:>10.3} ms {:>6.1} %",
                    row.kernel,
                    row.calls,
                    row.seconds * 1e3,
                    row.share * 100.0
                );
            }
        }
    }
    Ok(())
}
