"""sentence-transformers' API: the vectors of the float64 reference, shapes and options as
sentence-transformers gives them."""

import json
import shutil

import numpy as np
import pytest

import wgbert
from conftest import DATA, TINY, max_abs, run_cli


def test_encode_matches_the_float64_goldens(st_model, golden):
    singles = [g for g in golden if len(g["segments"]) == 1]
    texts = [g["text"] for g in singles]
    emb = st_model.encode(texts, batch_size=5)
    assert emb.shape == (len(texts), 384) and emb.dtype == np.float32
    want = np.array([g["mean_pooled_normalized"] for g in singles])
    assert max_abs(emb, want) < 1e-5
    one = st_model.encode(texts[0])
    assert one.shape == (384,)
    assert max_abs(one, want[0]) < 1e-5
    assert st_model.get_sentence_embedding_dimension() == 384
    assert st_model.max_seq_length == 256  # sentence_bert_config.json


def test_token_embeddings_are_the_last_layer_at_real_tokens(st_model, golden):
    g = next(g for g in golden if len(g["segments"]) == 1)
    (tok,) = st_model.encode([g["text"]], output_value="token_embeddings")
    assert tok.shape == (g["num_tokens"], 384)
    assert max_abs(tok, g["sequence_output"]) < 5e-5
    assert st_model.encode(g["text"], output_value="token_embeddings").shape == tok.shape


def test_encode_equals_the_command_line(st_model, minilm):
    texts = ["a fair trial", "a county fair", "the jury was fair"]
    cli = [json.loads(l)["embedding"] for l in run_cli("embed", "--model", str(minilm), *texts).splitlines()]
    assert max_abs(st_model.encode(texts), cli) < 1e-6


def test_similarity_truncation_and_normalisation(st_model):
    emb = st_model.encode(["a fair trial", "a county fair", "a fair trial"])
    sim = st_model.similarity(emb, emb)
    assert sim.shape == (3, 3)
    assert abs(sim[0, 2] - 1) < 1e-5 and sim[0, 1] < 0.99
    assert max_abs(sim, emb @ emb.T) < 1e-5  # unit vectors: cosine = dot
    assert max_abs(st_model.similarity_pairwise(emb, emb), np.ones(3)) < 1e-5
    cut = st_model.encode(["a fair trial"], truncate_dim=64)
    assert cut.shape == (1, 64)
    assert max_abs(cut, emb[:1, :64]) < 1e-7  # truncated, not re-normalised (as sentence-transformers)
    renorm = st_model.encode(["a fair trial"], truncate_dim=64, normalize_embeddings=True)
    assert abs(np.linalg.norm(renorm) - 1) < 1e-5
    m = wgbert.SentenceTransformer(str(st_model.model.path), truncate_dim=32)
    assert m.get_sentence_embedding_dimension() == 32 and m.encode("x").shape == (32,)


def test_prompts_from_the_folder(tmp_path):
    folder = tmp_path / "prompted"
    shutil.copytree(TINY, folder)
    (folder / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "query: ", "document": ""}, "default_prompt_name": "document"})
    )
    m = wgbert.SentenceTransformer(str(folder))
    assert m.prompts == {"query": "query: ", "document": ""}
    plain = m.encode(["what is a fair trial"])
    assert max_abs(m.encode(["what is a fair trial"], prompt_name="query"), m.encode(["query: what is a fair trial"])) < 1e-6
    assert max_abs(m.encode(["fair"], prompt="passage: "), m.encode(["passage: fair"])) < 1e-6
    assert max_abs(m.encode(["what is a fair trial"], prompt_name="document"), plain) < 1e-7
    with pytest.raises(ValueError, match="query, document|document, query"):
        m.encode(["x"], prompt_name="passage")
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {"query": "query: "}, "default_prompt_name": "query"}))
    d = wgbert.SentenceTransformer(str(folder))
    assert max_abs(d.encode(["fair"]), m.encode(["query: fair"])) < 1e-6


def test_max_seq_length_can_be_set(tmp_path):
    m = wgbert.SentenceTransformer(str(TINY))
    long = " ".join(["word"] * 50)
    full = m.encode(long)
    m.max_seq_length = 8
    assert m.max_seq_length == 8
    short = m.encode(long)
    assert max_abs(short, m.encode(" ".join(["word"] * 6))) < 1e-6
    assert max_abs(short, full) > 1e-4
    with pytest.raises(ValueError, match="longest input"):
        m.max_seq_length = 100000


def test_cross_encoder_scores_are_transformers_logits_through_a_sigmoid():
    gold = json.loads((DATA / "family_golden.json").read_text())["tiny-rerank-bert"]
    pairs = [(g["text"], g["pair"]) for g in gold["items"] if g["pair"]]
    assert pairs
    want = [1 / (1 + np.exp(-g["logits"][0])) for g in gold["items"] if g["pair"]]
    ce = wgbert.CrossEncoder(str(DATA / "family" / "tiny-rerank-bert"))
    got = ce.predict(pairs)
    assert got.shape == (len(pairs),)
    assert max_abs(got, want) < 1e-5
    assert abs(ce.predict(pairs[0]) - want[0]) < 1e-5
    ranked = ce.rank(pairs[0][0], [p[1] for p in pairs], return_documents=True, top_k=2)
    assert len(ranked) == 2 and ranked[0]["score"] >= ranked[1]["score"]
    assert ranked[0]["text"] == pairs[ranked[0]["corpus_id"]][1]
    raw = ce.predict(pairs, activation_fn=lambda z: z)
    assert max_abs(raw, [g["logits"][0] for g in gold["items"] if g["pair"]]) < 1e-5


def test_dense_modules_give_sentence_transformers_vectors():
    gold = json.loads((DATA / "dense_golden.json").read_text())
    for name, g in gold.items():
        m = wgbert.SentenceTransformer(str(DATA / name))
        assert m.get_sentence_embedding_dimension() == g["dim"]
        texts = [i["text"] for i in g["items"]]
        emb = m.encode(texts)
        assert emb.shape == (len(texts), g["dim"])
        assert max_abs(emb, [i["embedding"] for i in g["items"]]) < 1e-5
        # The token vectors and TF-Hub outputs stay the model width.
        assert m.encode(texts[0], output_value="token_embeddings").shape[1] == m.model.hidden_size == 32


def test_bert_pretraining_heads():
    gold = json.loads((DATA / "pretraining_golden.json").read_text())
    m = wgbert.Model(str(DATA / "tiny-pretraining"))
    got = m.fill_mask([i["text"] for i in gold["fill_mask"]], top_k=gold["top_k"])
    for answers, item in zip(got, gold["fill_mask"]):
        for mine, theirs in zip(answers, item["masks"]):
            assert [a["token"] for a in mine] == [b["token"] for b in theirs]
            assert [a["sequence"] for a in mine] == [b["sequence"] for b in theirs]
            assert max_abs([a["score"] for a in mine], [b["score"] for b in theirs]) < 1e-5
    ns = gold["next_sentence"]
    p = m.next_sentence([(i["a"], i["b"]) for i in ns])
    assert max_abs(p, [i["is_next"] for i in ns]) < 1e-5
    with pytest.raises(ValueError, match="no \\[MASK\\]"):
        m.fill_mask(["no mask"])


def test_sparse_encoder_gives_sentence_transformers_splade_vectors():
    gold = json.loads((DATA / "splade_golden.json").read_text())
    for name in ["tiny-splade", "tiny-splade-distil"]:
        g = gold[name]
        m = wgbert.SparseEncoder(str(DATA / name))
        assert m.model.is_sparse
        texts = [i["text"] for i in g["items"]]
        emb = m.encode(texts, batch_size=2)
        assert emb.shape == (len(texts), m.get_sentence_embedding_dimension()) and emb.dtype == np.float32
        for row, item in zip(emb, g["items"]):
            want = np.zeros_like(row)
            want[item["indices"]] = item["values"]
            assert max_abs(row, want) < 1e-5, name
        pairs = m.encode_sparse(texts[:1])
        idx, val = pairs[0]
        assert idx.dtype == np.uint32 and list(idx) == sorted(idx)
        assert max_abs(val, emb[0][idx]) == 0
        if g["max_active_dims"]:
            assert len(idx) == g["max_active_dims"]
        # decode: the vocabulary's tokens, largest weight first, as sentence-transformers'.
        top = m.decode(emb[0], top_k=3)
        order = np.argsort(-np.array(g["items"][0]["values"]), kind="stable")[:3]
        assert [t for t, _ in top] == [g["items"][0]["tokens"][i] for i in order]
        assert m.similarity(emb[:1], emb[:1])[0, 0] == pytest.approx(float(emb[0] @ emb[0]), rel=1e-5)
    with pytest.raises(ValueError, match="no masked-word head"):
        wgbert.SparseEncoder(str(DATA / "tiny-st-dense")).encode("x")
    with pytest.raises(ValueError, match="embed --sparse"):
        wgbert.SentenceTransformer(str(DATA / "tiny-splade")).encode("x")


def test_colbert_and_bge_m3_token_vectors():
    gold = json.loads((DATA / "colbert_golden.json").read_text())
    m = wgbert.Model(str(DATA / "tiny-colbert"))
    q = m.embed_multi([i["text"] for i in gold["queries"]], is_query=True)
    for (ids, vecs), item in zip(q, gold["queries"]):
        assert list(ids) == item["kept_ids"] and vecs.dtype == np.float32
        assert max_abs(vecs, item["vectors"]) < 1e-5
    d = m.embed_multi([i["text"] for i in gold["documents"]])
    for (ids, vecs), item in zip(d, gold["documents"]):
        assert list(ids) == item["kept_ids"]
        assert max_abs(vecs, item["vectors"]) < 1e-5
    m3 = json.loads((DATA / "bge_m3_golden.json").read_text())
    model = wgbert.Model(str(DATA / "tiny-bge-m3"))
    out = model.embed_m3([i["text"] for i in m3["items"]])
    for o, item in zip(out, m3["items"]):
        assert max_abs(o["dense_vecs"], item["dense"]) < 1e-5
        assert sorted(o["lexical_weights"]) == item["sparse_indices"]
        assert max_abs([o["lexical_weights"][i] for i in item["sparse_indices"]], item["sparse_values"]) < 1e-5
        assert max_abs(o["colbert_vecs"], item["colbert"]) < 1e-5
    with pytest.raises(ValueError, match="not bge-m3"):
        m.embed_m3(["x"])
