"""The Python clients people already point at `wgbert serve`: LangChain's OpenAIEmbeddings and
LlamaIndex's OpenAI-compatible embedding class give wgbert's vectors; token ids from another
tokenizer are refused with a message that names LangChain's setting."""

import subprocess
import threading

import numpy as np
import openai
import pytest

from conftest import ROOT, max_abs, wgbert_bin

TEXTS = ["a fair trial", "a county fair", "The quick brown fox jumps over the lazy dog."]
MODEL = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def server(minilm):
    p = subprocess.Popen(
        [wgbert_bin(), "serve", "--model", str(minilm), "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    url = None
    for line in p.stderr:
        seen.append(line)
        if "ready on " in line:
            url = line.split("ready on ")[1].split()[0]
            break
    assert url, "server did not start:\n" + "".join(seen)
    threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
    yield url
    p.terminate()
    p.wait(timeout=60)


@pytest.fixture(scope="module")
def want(st_model):
    return st_model.encode(TEXTS)


def test_langchain_openai_embeddings(server, want):
    from langchain_openai import OpenAIEmbeddings

    emb = OpenAIEmbeddings(model=MODEL, base_url=server + "/v1", api_key="unused", check_embedding_ctx_length=False)
    assert max_abs(emb.embed_documents(TEXTS), want) < 1e-6
    assert max_abs(emb.embed_query(TEXTS[0]), want[0]) < 1e-6


def test_token_ids_from_another_tokenizer_are_refused(server):
    # What LangChain's default (check_embedding_ctx_length=True) sends: tiktoken cl100k ids of
    # the text ("a fair trial" is [64, 6762, 9269] there), as arrays of token ids.
    client = openai.OpenAI(base_url=server + "/v1", api_key="unused")
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model=MODEL, input=[[64, 6762, 9269]])
    assert "check_embedding_ctx_length=False" in str(e.value)
    assert "--accept-token-ids" in str(e.value)
    from langchain_openai import OpenAIEmbeddings

    default = OpenAIEmbeddings(model=MODEL, base_url=server + "/v1", api_key="unused")
    try:
        import tiktoken

        tiktoken.get_encoding("cl100k_base")
    except Exception:
        return  # tiktoken cannot fetch its vocabulary here (no network): the request above is LangChain's
    with pytest.raises(openai.BadRequestError, match="check_embedding_ctx_length=False"):
        default.embed_documents(TEXTS)


def test_llamaindex_openai_like_embedding(server, want):
    from llama_index.embeddings.openai_like import OpenAILikeEmbedding

    emb = OpenAILikeEmbedding(model_name=MODEL, api_base=server + "/v1", api_key="unused")
    assert max_abs(emb.get_text_embedding_batch(TEXTS), want) < 1e-6
    assert max_abs(emb.get_query_embedding(TEXTS[1]), want[1]) < 1e-6
