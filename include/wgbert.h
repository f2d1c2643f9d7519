/* wgbert.h — the C interface of wgbert, BERT inference on any GPU through wgpu.
 *
 * This header is the whole contract. Link with the library built by `cargo build --release`
 * (target/release/libwgbert.so / .dylib / wgbert.dll, or the static libwgbert.a with the
 * system libraries it needs: -lm -ldl -lpthread on Linux).
 *
 * Errors: functions that return int return WGBERT_OK (0) or an error code; functions that
 * return a pointer return NULL on error. Either way wgbert_last_error() then gives this
 * thread's message. No Rust panic crosses this boundary (it becomes WGBERT_ERR_PANIC).
 * Strings are NUL-terminated UTF-8. One engine may be used from several threads at once.
 */
#ifndef WGBERT_H
#define WGBERT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WGBERT_OK 0
#define WGBERT_ERR_INVALID_ARGUMENT 1 /* NULL pointer, invalid UTF-8, n = 0, bad option */
#define WGBERT_ERR_ENGINE 2           /* model, GPU or input the model cannot take */
#define WGBERT_ERR_PANIC 3            /* a bug in wgbert, caught at the boundary */

#define WGBERT_PRECISION_F32 0
#define WGBERT_PRECISION_F16 1

#define WGBERT_POOLING_MODEL (-1) /* what the model folder says (modules.json), else mean */
#define WGBERT_POOLING_MEAN 0
#define WGBERT_POOLING_MAX 1
#define WGBERT_POOLING_CLS 2
#define WGBERT_POOLING_POOLER 3
#define WGBERT_POOLING_MEAN_SQRT_LEN 4

typedef struct wgbert_engine wgbert_engine;

typedef struct wgbert_options {
    int precision;        /* WGBERT_PRECISION_F32 (default) or WGBERT_PRECISION_F16 */
    int pooling;          /* WGBERT_POOLING_* (default WGBERT_POOLING_MODEL) */
    int normalize;        /* -1: the model folder's (default), 0: no, 1: L2-normalise */
    size_t seq_len;       /* packed length of wgbert_encode; 0: 128 or the model's longest input */
    size_t embed_seq_len; /* longest input of wgbert_embed; 0: the folder's max_seq_length */
    const char *adapter;  /* substring of the adapter's name; NULL: the best adapter */
} wgbert_options;

/* The options wgbert_engine_new uses. */
wgbert_options wgbert_default_options(void);

/* Loads a model folder (config.json, tokenizer.json, model.safetensors). NULL on error.
 * Reads the environment variables the wgbert command does (WGPU_BACKEND, WGPU_ADAPTER_NAME,
 * WGBERT_GEMM, WGBERT_TUNE, WGBERT_CACHE_DIR, ...: see EngineOptions::from_env); the
 * options struct wins over them. */
wgbert_engine *wgbert_engine_new(const char *model_dir);

/* The same with options (NULL: the defaults). NULL on error. */
wgbert_engine *wgbert_engine_new_with_options(const char *model_dir, const wgbert_options *options);

/* This thread's last error message ("" if none); valid until this thread's next wgbert call. */
const char *wgbert_last_error(void);

/* The library's version, e.g. "0.1.0" (static storage). */
const char *wgbert_version(void);

/* Floats per embedding vector (what wgbert_embed writes per text): the model width, or the
 * last Dense module's out_features for folders with Dense modules; 0 for NULL. */
size_t wgbert_engine_dim(const wgbert_engine *engine);

/* The model width H (wgbert_encode's pooled_output and sequence_output); 0 for NULL. */
size_t wgbert_engine_hidden_size(const wgbert_engine *engine);

/* The packed length wgbert_encode uses when given 0; 0 for NULL. */
size_t wgbert_engine_seq_length(const wgbert_engine *engine);

/* 1 if the model has a pooler (pooled_output), 0 if not, -1 for NULL. */
int wgbert_engine_has_pooler(const wgbert_engine *engine);

/* Sentence embeddings of n texts; out receives n * dim floats. 0 = ok. */
int wgbert_embed(wgbert_engine *engine, const char *const *texts, size_t n, float *out);

/* Sentence embeddings of n texts as sentence-transformers' encode gives them with a prompt:
 * prompt (the text itself) if not NULL, else the model folder's prompt named prompt_name
 * (config_sentence_transformers.json; NULL: its default prompt, if any). dimensions > 0 keeps
 * the first dimensions floats of each vector and L2-normalises again (Matryoshka); 0 keeps
 * all. out receives n * (dimensions ? dimensions : dim) floats. 0 = ok. */
int wgbert_embed_prompted(wgbert_engine *engine, const char *const *texts, size_t n,
                          const char *prompt_name, const char *prompt, size_t dimensions,
                          float *out);

/* Sentence embeddings of n pairs (a[i], b[i]); out receives n * dim floats. 0 = ok. */
int wgbert_embed_pairs(wgbert_engine *engine, const char *const *a, const char *const *b, size_t n,
                       float *out);

/* TF-Hub outputs of n texts packed to seq_len (0: wgbert_engine_seq_length): pooled_output
 * receives n * H floats, sequence_output n * seq_len * H (H: wgbert_engine_hidden_size;
 * padding positions included);
 * either may be NULL, not both. 0 = ok. */
int wgbert_encode(wgbert_engine *engine, const char *const *texts, size_t n, size_t seq_len,
                  float *pooled_output, float *sequence_output);

/* Frees an engine; NULL is a no-op. */
void wgbert_engine_free(wgbert_engine *engine);

#ifdef __cplusplus
}
#endif

#endif /* WGBERT_H */
