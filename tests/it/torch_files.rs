//! PyTorch `torch.save` files read without Python (`wgbert::pt`): a model folder with only
//! `pytorch_model.bin` (its tied decoder sharing the word table's storage), a Dense module's
//! half-precision state dict, and files that are not state dicts of tensors.

use crate::common::*;
use wgbert::{EmbedOptions, Engine, EngineOptions, Input};

fn folder_with_bin() -> tempfile::TempDir {
    let tmp = copy_of("tiny-splade");
    std::fs::remove_file(tmp.path().join("model.safetensors")).unwrap();
    std::fs::copy(
        data("pt/tiny-splade-pytorch_model.bin"),
        tmp.path().join("pytorch_model.bin"),
    )
    .unwrap();
    tmp
}

#[test]
fn a_pytorch_model_bin_folder_gives_the_safetensors_folder_s_vectors() {
    let tmp = folder_with_bin();
    let bin = Engine::from_dir(tmp.path(), EngineOptions::default()).unwrap();
    let st = Engine::from_dir(&data("tiny-splade"), EngineOptions::default()).unwrap();
    let inputs = [
        Input::from("a fair trial"),
        Input::from("what is the capital of france?"),
    ];
    let a = bin
        .embed_sparse(&inputs, &EmbedOptions::default(), None)
        .unwrap();
    let b = st
        .embed_sparse(&inputs, &EmbedOptions::default(), None)
        .unwrap();
    assert_eq!(a, b, "the same weights, bit for bit");
}

#[test]
fn half_precision_storages_and_bad_files() {
    let got = wgbert::pt::read_state_dict(&data("pt/dense-f16-pytorch_model.bin")).unwrap();
    let want = wgbert::weights::read_safetensors(&data("tiny-st-dense/2_Dense/model.safetensors"))
        .unwrap();
    for (name, t) in &want {
        let g = &got.iter().find(|(k, _)| k == name).unwrap().1;
        assert_eq!(g.shape, t.shape, "{name}");
        // f16 storage: within its rounding of the f32 values.
        assert_close(name, &g.data, &t.data, 1e-4, 1e-3);
    }
    // Not a zip, a truncated zip, a safetensors file under the .bin name: errors naming the file.
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("x.pt");
    let full = std::fs::read(data("pt/dense-f16-pytorch_model.bin")).unwrap();
    for bytes in [
        b"hello".to_vec(),
        full[..full.len() / 2].to_vec(),
        std::fs::read(data("tiny-st-dense/2_Dense/model.safetensors")).unwrap(),
    ] {
        std::fs::write(&p, &bytes).unwrap();
        let err = wgbert::pt::read_state_dict(&p).unwrap_err().to_string();
        assert!(err.contains("x.pt") && err.contains("torch.save"), "{err}");
    }
}

/// A zip archive of `entries`, stored uncompressed (as torch.save writes them).
fn stored_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = out.len() as u32;
        let crc = 0u32; // not checked by the reader
        let local = [
            &0x0403_4b50u32.to_le_bytes()[..],
            &[20, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &crc.to_le_bytes(),
            &(data.len() as u32).to_le_bytes(),
            &(data.len() as u32).to_le_bytes(),
            &(name.len() as u16).to_le_bytes(),
            &0u16.to_le_bytes(),
        ]
        .concat();
        out.extend(local);
        out.extend(name.as_bytes());
        out.extend(*data);
        central.extend(0x0201_4b50u32.to_le_bytes());
        central.extend([20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        central.extend(crc.to_le_bytes());
        central.extend((data.len() as u32).to_le_bytes());
        central.extend((data.len() as u32).to_le_bytes());
        central.extend((name.len() as u16).to_le_bytes());
        central.extend([0u8; 12]);
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    let cd_len = central.len() as u32;
    out.extend(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend(cd_len.to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

#[test]
fn a_pickle_that_calls_anything_else_is_refused_not_run() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("evil.pt");
    // os.system("ls"): a pickle may call any global; the reader takes only a state dict's.
    let evil: &[u8] = b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85R.";
    std::fs::write(&p, stored_zip(&[("archive/data.pkl", evil)])).unwrap();
    let err = wgbert::pt::read_state_dict(&p).unwrap_err().to_string();
    assert!(
        err.contains("os.system") && err.contains("not part of a state dict"),
        "{err}"
    );
    // A cut pickle, and an opcode a state dict never uses.
    for bad in [&b"\x80\x02c"[..], &b"\x80\x02\xff."[..], &b""[..]] {
        std::fs::write(&p, stored_zip(&[("archive/data.pkl", bad)])).unwrap();
        let err = wgbert::pt::read_state_dict(&p).unwrap_err().to_string();
        assert!(err.contains("evil.pt"), "{err}");
    }
    // The crafted archive itself reads: an empty state dict.
    let empty: &[u8] = b"\x80\x02ccollections\nOrderedDict\n)R.";
    std::fs::write(&p, stored_zip(&[("archive/data.pkl", empty)])).unwrap();
    assert!(wgbert::pt::read_state_dict(&p).unwrap().is_empty());
}
