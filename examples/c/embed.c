/* Embeds text with wgbert from C, using only include/wgbert.h.
 *
 *   cc -I include examples/c/embed.c -L target/release -lwgbert -lpthread -o embed
 *   LD_LIBRARY_PATH=target/release ./embed assets/models/all-MiniLM-L6-v2 "nice movie indeed" ...
 *
 * Prints one line of floats per text, then checks, on the same engine, that bad input gets an
 * error code and a message, and that 4 threads embedding at once get the same vectors.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wgbert.h"

struct job {
    wgbert_engine *engine;
    const char *const *texts;
    size_t n;
    float *out;
    int rc;
};

static void *embed_thread(void *arg) {
    struct job *j = arg;
    for (int round = 0; round < 3 && j->rc == 0; round++) {
        j->rc = wgbert_embed(j->engine, j->texts, j->n, j->out);
    }
    return NULL;
}

static int expect_error(const char *what, int rc) {
    if (rc == WGBERT_OK) {
        printf("FAIL %s: accepted\n", what);
        return 1;
    }
    printf("error %s: code %d: %s\n", what, rc, wgbert_last_error());
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL_DIR TEXT...\n", argv[0]);
        return 2;
    }
    wgbert_engine *engine = wgbert_engine_new(argv[1]);
    if (!engine) {
        fprintf(stderr, "error: %s\n", wgbert_last_error());
        return 1;
    }
    size_t dim = wgbert_engine_dim(engine), n = (size_t)(argc - 2);
    const char *const *texts = (const char *const *)(argv + 2);
    float *out = malloc(n * dim * sizeof(float));
    if (wgbert_embed(engine, texts, n, out) != WGBERT_OK) {
        fprintf(stderr, "error: %s\n", wgbert_last_error());
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        printf("vector");
        for (size_t k = 0; k < dim; k++) printf(" %.9g", out[i * dim + k]);
        printf("\n");
    }

    int failures = 0;
    const char *bad_utf8[] = {"caf\xc3", "ok"};
    const char *with_null[] = {"ok", NULL};
    failures += expect_error("invalid-utf8", wgbert_embed(engine, bad_utf8, 2, out));
    failures += expect_error("null-texts", wgbert_embed(engine, NULL, 1, out));
    failures += expect_error("null-text", wgbert_embed(engine, with_null, 2, out));
    failures += expect_error("n-zero", wgbert_embed(engine, texts, 0, out));
    failures += expect_error("null-out", wgbert_embed(engine, texts, 1, NULL));
    failures += expect_error("null-engine", wgbert_embed(NULL, texts, 1, out));
    failures += expect_error("no-model", wgbert_engine_new("/nonexistent/model") ? WGBERT_OK : 1);
    if (wgbert_engine_dim(NULL) != 0) failures++, printf("FAIL dim(NULL)\n");

    /* Four threads on the one engine, three rounds each, must agree with the first answer. */
    pthread_t threads[4];
    struct job jobs[4];
    for (int t = 0; t < 4; t++) {
        jobs[t] = (struct job){engine, texts, n, malloc(n * dim * sizeof(float)), 0};
        pthread_create(&threads[t], NULL, embed_thread, &jobs[t]);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(threads[t], NULL);
        if (jobs[t].rc != WGBERT_OK) {
            printf("FAIL thread %d: %d\n", t, jobs[t].rc);
            failures++;
            continue;
        }
        for (size_t k = 0; k < n * dim; k++) {
            if (fabsf(jobs[t].out[k] - out[k]) > 1e-6f) {
                printf("FAIL thread %d differs at %zu\n", t, k);
                failures++;
                break;
            }
        }
        free(jobs[t].out);
    }
    printf("threads: %s\n", failures ? "FAIL" : "ok");

    /* sentence-transformers' prompt and Matryoshka truncation: the first 64 floats, unit length. */
    float small[64];
    int prc = wgbert_embed_prompted(engine, texts, 1, NULL, "query: ", 64, small);
    double norm = 0;
    for (int k = 0; k < 64; k++) norm += (double)small[k] * small[k];
    printf("prompted %d %.4f\n", prc, prc == WGBERT_OK ? sqrt(norm) : 0.0);
    failures += expect_error("bad-prompt-name", wgbert_embed_prompted(engine, texts, 1, "nope", NULL, 0, out));

    /* TF-Hub outputs: pooled_output when the model has a pooler. */
    if (wgbert_engine_has_pooler(engine) == 1) {
        float *pooled = malloc(wgbert_engine_hidden_size(engine) * sizeof(float));
        int rc = wgbert_encode(engine, texts, 1, 0, pooled, NULL);
        printf("pooled %d %.6f\n", rc, rc == WGBERT_OK ? pooled[0] : 0.0f);
        free(pooled);
    }
    free(out);
    wgbert_engine_free(engine);
    wgbert_engine_free(NULL);
    printf("version %s\n", wgbert_version());
    return failures ? 1 : 0;
}
