/* The C API from C: a C99 program linked to the shared library, as a C
 * engine uses it. It writes its own GGUF, safetensors and LoRA files byte by
 * byte (the formats' definitions, not weightmap's writers) and checks every
 * value the library returns against the values it put there.
 * Usage: capi_test DIR (an existing folder for its files: CTest makes it,
 * so the program needs no OS call beyond C99 and threads). */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weightmap/weightmap.h"

#define CHECK(cond)                                                                                   \
  do {                                                                                                \
    if (!(cond)) {                                                                                    \
      fprintf(stderr, "%s:%d: CHECK(%s) failed (last error: %s)\n", __FILE__, __LINE__, #cond,        \
              wm_last_error());                                                                       \
      exit(1);                                                                                        \
    }                                                                                                 \
  } while (0)
#define CHECK_OK(call) CHECK((call) == WM_OK)

static char dir[2048];

static const char* path_of(const char* name, char* out, size_t cap) {
  int n = snprintf(out, cap, "%s/%s", dir, name);
  CHECK(n > 0 && (size_t)n < cap);
  return out;
}

/* ---- bytes, little-endian ----------------------------------------------- */

typedef struct {
  unsigned char* p;
  size_t n, cap;
} bytes;

static void put(bytes* b, const void* data, size_t n) {
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    while (cap < b->n + n) cap *= 2;
    b->p = (unsigned char*)realloc(b->p, cap);
    CHECK(b->p != NULL);
    b->cap = cap;
  }
  memcpy(b->p + b->n, data, n);
  b->n += n;
}
static void put_le(bytes* b, uint64_t v, int width) {
  unsigned char le[8];
  int i;
  for (i = 0; i < width; ++i) le[i] = (unsigned char)(v >> (8 * i));
  put(b, le, (size_t)width);
}
static void put_u32(bytes* b, uint32_t v) { put_le(b, v, 4); }
static void put_u64(bytes* b, uint64_t v) { put_le(b, v, 8); }
static void put_f32(bytes* b, float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  put_u32(b, u);
}
static void put_f64(bytes* b, double f) {
  uint64_t u;
  memcpy(&u, &f, 8);
  put_u64(b, u);
}
static void put_zeros(bytes* b, size_t n) {
  while (n--) put_le(b, 0, 1);
}

static void write_file(const char* path, const unsigned char* p, size_t n) {
  FILE* f = fopen(path, "wb");
  CHECK(f != NULL);
  CHECK(fwrite(p, 1, n, f) == n);
  CHECK(fclose(f) == 0);
}

/* n bytes of `path` at `offset`, read with stdio (the reference for the
 * library's bytes). Caller frees. */
static unsigned char* read_file_at(const char* path, long offset, size_t n) {
  unsigned char* p = (unsigned char*)malloc(n ? n : 1);
  FILE* f = fopen(path, "rb");
  CHECK(p != NULL && f != NULL);
  CHECK(fseek(f, offset, SEEK_SET) == 0);
  CHECK(fread(p, 1, n, f) == n);
  fclose(f);
  return p;
}

/* ---- a GGUF file (GGUF v3, alignment 32) --------------------------------- */

enum { GGUF_U8 = 0, GGUF_I32 = 5, GGUF_F32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9,
       GGUF_U64 = 10, GGUF_F64 = 12 };

static void gguf_string(bytes* b, const char* s) {
  put_u64(b, strlen(s));
  put(b, s, strlen(s));
}
static void gguf_key(bytes* b, const char* key, uint32_t type) {
  gguf_string(b, key);
  put_u32(b, type);
}

static const float kA[8] = {-3.0f, -1.5f, 0.0f, 1.5f, 3.0f, 4.5f, 6.0f, 7.5f}; /* "a": F32 2x4 */
static const uint16_t kB[8] = {0x3C00, 0x4000, 0x3800, 0xBC00, 0x0000, 0xC000, 0x4400, 0x3400}; /* "b": F16 */
static const float kBValues[8] = {1.0f, 2.0f, 0.5f, -1.0f, 0.0f, -2.0f, 4.0f, 0.25f};
static long gguf_data_start; /* where "a" starts in the file */

/* Three tensors: "a" F32 [2, 4], "b" F16 [8], "q" Q8_0 [32] (d = 0.5,
 * quants i - 16), and one key of each type. */
static bytes make_gguf(void) {
  bytes b = {NULL, 0, 0};
  int i;
  put(&b, "GGUF", 4);
  put_u32(&b, 3);
  put_u64(&b, 3);  /* tensors */
  put_u64(&b, 10); /* key/values */
  gguf_key(&b, "general.architecture", GGUF_STRING);
  gguf_string(&b, "capi");
  gguf_key(&b, "test.i32", GGUF_I32);
  put_u32(&b, (uint32_t)-7);
  gguf_key(&b, "test.u64_big", GGUF_U64);
  put_u64(&b, 0x8000000000000005ull);
  gguf_key(&b, "test.f32", GGUF_F32);
  put_f32(&b, 0.5f);
  gguf_key(&b, "test.f64", GGUF_F64);
  put_f64(&b, -2.25);
  gguf_key(&b, "test.bool", GGUF_BOOL);
  put_le(&b, 1, 1);
  gguf_key(&b, "test.ints", GGUF_ARRAY);
  put_u32(&b, GGUF_I32);
  put_u64(&b, 3);
  put_u32(&b, 1);
  put_u32(&b, (uint32_t)-2);
  put_u32(&b, 3);
  gguf_key(&b, "test.floats", GGUF_ARRAY);
  put_u32(&b, GGUF_F32);
  put_u64(&b, 2);
  put_f32(&b, 0.25f);
  put_f32(&b, 4.0f);
  gguf_key(&b, "test.strings", GGUF_ARRAY);
  put_u32(&b, GGUF_STRING);
  put_u64(&b, 2);
  gguf_string(&b, "a");
  gguf_string(&b, "bc");
  gguf_key(&b, "test.str_true", GGUF_STRING);
  gguf_string(&b, "true");
  /* tensor infos: name, n_dims, ne[] innermost first, ggml type, offset */
  gguf_string(&b, "a");
  put_u32(&b, 2);
  put_u64(&b, 4);
  put_u64(&b, 2);
  put_u32(&b, 0); /* F32 */
  put_u64(&b, 0);
  gguf_string(&b, "b");
  put_u32(&b, 1);
  put_u64(&b, 8);
  put_u32(&b, 1); /* F16 */
  put_u64(&b, 32);
  gguf_string(&b, "q");
  put_u32(&b, 1);
  put_u64(&b, 32);
  put_u32(&b, 8); /* Q8_0 */
  put_u64(&b, 64);
  put_zeros(&b, (32 - b.n % 32) % 32);
  gguf_data_start = (long)b.n;
  for (i = 0; i < 8; ++i) put_f32(&b, kA[i]);
  for (i = 0; i < 8; ++i) put_le(&b, kB[i], 2);
  put_zeros(&b, 16);
  put_le(&b, 0x3800, 2); /* d = 0.5 */
  for (i = 0; i < 32; ++i) put_le(&b, (uint64_t)(unsigned char)(signed char)(i - 16), 1);
  return b;
}

/* ---- safetensors files -------------------------------------------------- */

/* A safetensors file from its JSON header and data: u64 header length,
 * the header padded with spaces to 8 bytes, the data. Returns the data's
 * offset in the file. */
static long write_safetensors(const char* path, const char* header, const bytes* data) {
  bytes b = {NULL, 0, 0};
  size_t len = strlen(header), padded = (len + 7) / 8 * 8;
  long start;
  put_u64(&b, padded);
  put(&b, header, len);
  while (b.n < 8 + padded) put(&b, " ", 1);
  start = (long)b.n;
  put(&b, data->p, data->n);
  write_file(path, b.p, b.n);
  free(b.p);
  return start;
}

static float w_value(int i) { return (float)i * 0.25f - 1.0f; } /* "w.weight" 4x4 */
static const float kLoraA[4] = {1.0f, 2.0f, 3.0f, 4.0f};         /* down: rank 1 x 4 */
static const float kLoraB[4] = {0.5f, -1.0f, 0.0f, 2.0f};        /* up: 4 x rank 1 */

static long make_safetensors(const char* path) {
  bytes data = {NULL, 0, 0};
  int i;
  long start;
  for (i = 0; i < 16; ++i) put_f32(&data, w_value(i));
  put_u32(&data, 7);
  put_u32(&data, (uint32_t)-8);
  put_u32(&data, 9);
  start = write_safetensors(path,
                            "{\"__metadata__\":{\"format\":\"pt\",\"name\":\"capi\"},"
                            "\"w.weight\":{\"dtype\":\"F32\",\"shape\":[4,4],\"data_offsets\":[0,64]},"
                            "\"v\":{\"dtype\":\"I32\",\"shape\":[3],\"data_offsets\":[64,76]}}",
                            &data);
  free(data.p);
  return start;
}

static void make_lora(const char* path) {
  bytes data = {NULL, 0, 0};
  int i;
  for (i = 0; i < 4; ++i) put_f32(&data, kLoraA[i]);
  for (i = 0; i < 4; ++i) put_f32(&data, kLoraB[i]);
  write_safetensors(path,
                    "{\"w.lora_A.weight\":{\"dtype\":\"F32\",\"shape\":[1,4],\"data_offsets\":[0,16]},"
                    "\"w.lora_B.weight\":{\"dtype\":\"F32\",\"shape\":[4,1],\"data_offsets\":[16,32]}}",
                    &data);
  free(data.p);
}

static float f32_at(const void* p, size_t i) {
  float f;
  memcpy(&f, (const unsigned char*)p + 4 * i, 4);
  return f;
}

static wm_model* open_one(const char* path, const wm_options* options) {
  wm_model* model = NULL;
  CHECK_OK(wm_model_open(&path, 1, options, &model));
  CHECK(model != NULL);
  CHECK(strcmp(wm_last_error(), "") == 0);
  return model;
}

static wm_tensor_info info_of(const wm_model* model, const char* name) {
  wm_tensor_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  CHECK_OK(wm_model_tensor_info_by_name(model, name, &info));
  return info;
}

/* ---- the tests ---------------------------------------------------------- */

static int log_calls;
static void count_log(void* user_data, wm_log_level level, const char* message) {
  CHECK(user_data == &log_calls);
  CHECK(level >= WM_LOG_DEBUG && level <= WM_LOG_ERROR && message != NULL);
  ++log_calls;
}

static void test_gguf(const char* path, const bytes* file) {
  wm_options options = wm_options_default();
  wm_model* model;
  wm_tensor_info a, b, q, by_index;
  size_t count = 0, index = 99, i, n = 0;
  int64_t i64 = 0;
  double f64 = 0;
  int flag = -1;
  const char* s = NULL;
  const int64_t* ints = NULL;
  const double* floats = NULL;
  const char* const* strings = NULL;
  char* json = NULL;

  options.prefetch = WM_PREFETCH_WAIT;
  options.log = count_log;
  options.log_user_data = &log_calls;
  model = open_one(path, &options);
  CHECK(log_calls > 0);

  CHECK_OK(wm_model_tensor_count(model, &count));
  CHECK(count == 3);
  CHECK_OK(wm_model_find(model, "b", &index));
  CHECK(index == 1);

  a = info_of(model, "a");
  CHECK(strcmp(a.name, "a") == 0);
  CHECK(a.dtype == WM_DTYPE_F32 && strcmp(a.dtype_name, "F32") == 0 && a.ggml_type == 0);
  CHECK(a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 4); /* outermost first: ne reversed */
  CHECK(a.nbytes == 32);
  CHECK(a.placement == WM_PLACEMENT_MAP && strcmp(a.reason, "") == 0);
  CHECK(!a.on_device && a.host_data != NULL && a.device == 0 && strcmp(a.device_name, "cpu") == 0);
  CHECK(strcmp(a.file, path) == 0 && a.file_offset == (uint64_t)gguf_data_start && a.generation == 0);
  CHECK_OK(wm_model_wait_ready(model, 0));
  for (i = 0; i < 8; ++i) CHECK(f32_at(a.host_data, i) == kA[i]);
  /* zero-copy: the mapped tensor's bytes are the file's bytes */
  CHECK(memcmp(a.host_data, file->p + gguf_data_start, 32) == 0);

  b = info_of(model, "b");
  CHECK(b.dtype == WM_DTYPE_F16 && b.ndim == 1 && b.shape[0] == 8 && b.nbytes == 16);
  CHECK(b.file_offset == (uint64_t)gguf_data_start + 32);
  q = info_of(model, "q");
  CHECK(q.dtype == WM_DTYPE_Q8_0 && strcmp(q.dtype_name, "Q8_0") == 0 && q.ggml_type == 8 && q.nbytes == 34);

  memset(&by_index, 0, sizeof by_index);
  by_index.struct_size = sizeof by_index;
  CHECK_OK(wm_model_tensor_info(model, 2, &by_index));
  CHECK(strcmp(by_index.name, "q") == 0 && by_index.host_data == q.host_data);
  CHECK(wm_model_tensor_info(model, 3, &by_index) == WM_ERR_INVALID_ARGUMENT);
  CHECK(strstr(wm_last_error(), "out of range") != NULL);

  /* an unknown name: not found, the name in the message and the parts */
  CHECK(wm_model_tensor_info_by_name(model, "nope.weight", &by_index) == WM_ERR_NOT_FOUND);
  CHECK(wm_last_error_code() == WM_ERR_NOT_FOUND);
  CHECK(strstr(wm_last_error(), "nope.weight") != NULL);
  CHECK(strcmp(wm_last_error_tensor(), "nope.weight") == 0);
  CHECK(wm_model_find(model, "nope.weight", &index) == WM_ERR_NOT_FOUND);
  /* a call that succeeds clears it */
  CHECK_OK(wm_model_tensor_count(model, &count));
  CHECK(strcmp(wm_last_error(), "") == 0 && wm_last_error_code() == WM_OK);

  /* metadata: keys in file order, each getter, absent keys, wrong types */
  CHECK_OK(wm_model_metadata_count(model, &n));
  CHECK(n == 10);
  CHECK_OK(wm_model_metadata_key(model, 0, &s));
  CHECK(strcmp(s, "general.architecture") == 0);
  CHECK_OK(wm_model_metadata_key(model, 9, &s));
  CHECK(strcmp(s, "test.str_true") == 0);
  CHECK(wm_model_metadata_key(model, 10, &s) == WM_ERR_INVALID_ARGUMENT);
  CHECK_OK(wm_model_metadata_string(model, "general.architecture", &s));
  CHECK(strcmp(s, "capi") == 0);
  CHECK_OK(wm_model_metadata_int(model, "test.i32", &i64));
  CHECK(i64 == -7);
  CHECK_OK(wm_model_metadata_double(model, "test.i32", &f64)); /* integers read as numbers too */
  CHECK(f64 == -7.0);
  CHECK(wm_model_metadata_int(model, "test.u64_big", &i64) == WM_ERR_WRONG_TYPE); /* does not fit int64 */
  CHECK(strstr(wm_last_error(), "test.u64_big") != NULL);
  CHECK(i64 == -7); /* untouched on failure */
  CHECK_OK(wm_model_metadata_double(model, "test.f32", &f64));
  CHECK(f64 == 0.5);
  CHECK_OK(wm_model_metadata_double(model, "test.f64", &f64));
  CHECK(f64 == -2.25);
  CHECK(wm_model_metadata_int(model, "test.f64", &i64) == WM_ERR_WRONG_TYPE);
  CHECK_OK(wm_model_metadata_bool(model, "test.bool", &flag));
  CHECK(flag == 1);
  CHECK(wm_model_metadata_bool(model, "test.str_true", &flag) == WM_ERR_WRONG_TYPE); /* a string, not a bool */
  CHECK(wm_model_metadata_bool(model, "test.i32", &flag) == WM_ERR_WRONG_TYPE);
  CHECK(wm_model_metadata_string(model, "test.i32", &s) == WM_ERR_WRONG_TYPE);
  CHECK(wm_model_metadata_string(model, "no.such.key", &s) == WM_ERR_NOT_FOUND);
  CHECK(strstr(wm_last_error(), "no.such.key") != NULL);
  CHECK(wm_model_metadata_int(model, "no.such.key", &i64) == WM_ERR_NOT_FOUND);
  CHECK_OK(wm_model_metadata_int_array(model, "test.ints", &ints, &n));
  CHECK(n == 3 && ints[0] == 1 && ints[1] == -2 && ints[2] == 3);
  CHECK_OK(wm_model_metadata_double_array(model, "test.floats", &floats, &n));
  CHECK(n == 2 && floats[0] == 0.25 && floats[1] == 4.0);
  CHECK_OK(wm_model_metadata_double_array(model, "test.ints", &floats, &n));
  CHECK(n == 3 && floats[1] == -2.0);
  CHECK_OK(wm_model_metadata_string_array(model, "test.strings", &strings, &n));
  CHECK(n == 2 && strcmp(strings[0], "a") == 0 && strcmp(strings[1], "bc") == 0);
  CHECK(wm_model_metadata_int_array(model, "test.strings", &ints, &n) == WM_ERR_WRONG_TYPE);
  CHECK(wm_model_metadata_string_array(model, "test.i32", &strings, &n) == WM_ERR_WRONG_TYPE);
  CHECK(wm_model_metadata_int_array(model, "no.such.key", &ints, &n) == WM_ERR_NOT_FOUND);
  CHECK_OK(wm_model_metadata_text(model, "test.ints", &s));
  CHECK(strstr(s, "-2") != NULL);
  /* the same value twice: the same pointer (kept until release) */
  {
    const char* again = NULL;
    CHECK_OK(wm_model_metadata_string(model, "general.architecture", &s));
    CHECK_OK(wm_model_metadata_string(model, "general.architecture", &again));
    CHECK(s == again);
  }

  CHECK_OK(wm_model_report_json(model, 1, &json));
  CHECK(json != NULL && json[0] == '{' && json[strlen(json) - 1] == '}');
  CHECK(strstr(json, "\"tensors\"") != NULL);
  wm_free(json);

  CHECK_OK(wm_model_release(model, 0));
}

/* safetensors: zero-copy against fread, metadata, an old caller's options. */
static void test_safetensors(const char* path, long data_start) {
  wm_options options = wm_options_default();
  wm_model* model;
  wm_tensor_info w, v;
  unsigned char* expected = read_file_at(path, data_start, 76);
  const char* s = NULL;
  int64_t i64 = 0;
  int i;

  model = open_one(path, NULL);
  w = info_of(model, "w.weight");
  CHECK(w.dtype == WM_DTYPE_F32 && w.ndim == 2 && w.shape[0] == 4 && w.shape[1] == 4 && w.nbytes == 64);
  CHECK(w.placement == WM_PLACEMENT_MAP && w.host_data != NULL && w.file_offset == (uint64_t)data_start);
  CHECK_OK(wm_model_wait_ready(model, 0));
  CHECK(memcmp(w.host_data, expected, 64) == 0);
  for (i = 0; i < 16; ++i) CHECK(f32_at(w.host_data, (size_t)i) == w_value(i));
  v = info_of(model, "v");
  CHECK(v.dtype == WM_DTYPE_I32 && strcmp(v.dtype_name, "I32") == 0 && v.shape[0] == 3);
  CHECK(memcmp(v.host_data, expected + 64, 12) == 0);
  CHECK_OK(wm_model_metadata_string(model, "format", &s));
  CHECK(strcmp(s, "pt") == 0);
  CHECK(wm_model_metadata_int(model, "format", &i64) == WM_ERR_WRONG_TYPE);
  CHECK(wm_model_metadata_string(model, "general.architecture", &s) == WM_ERR_NOT_FOUND);
  CHECK_OK(wm_model_release(model, 0));

  /* use_mmap = 0: every tensor copied, the reason said, the same bytes */
  options.use_mmap = 0;
  options.prefetch = WM_PREFETCH_WAIT;
  model = open_one(path, &options);
  w = info_of(model, "w.weight");
  CHECK(w.placement == WM_PLACEMENT_COPY && strlen(w.reason) > 0);
  CHECK(memcmp(w.host_data, expected, 64) == 0);
  CHECK_OK(wm_model_release(model, 0));

  /* an old caller: its struct ends before use_mmap, so use_mmap = 0 past
   * its end is never read (the tensor stays mapped). In a heap block of
   * exactly its size, so reading past it would be caught under ASan. */
  {
    size_t old_size = offsetof(wm_options, use_mmap);
    wm_options* old = (wm_options*)malloc(old_size);
    CHECK(old != NULL);
    options = wm_options_default();
    options.struct_size = old_size;
    memcpy(old, &options, old_size);
    model = NULL;
    CHECK_OK(wm_model_open(&path, 1, old, &model));
    w = info_of(model, "w.weight");
    CHECK(w.placement == WM_PLACEMENT_MAP);
    CHECK_OK(wm_model_release(model, 0));
    free(old);
  }
  /* a caller newer than the library: refused, not half-read */
  {
    struct {
      wm_options o;
      uint64_t newer_field;
    } newer;
    newer.o = wm_options_default();
    newer.o.struct_size = sizeof newer;
    newer.newer_field = 1;
    CHECK(wm_model_open(&path, 1, &newer.o, &model) == WM_ERR_UNSUPPORTED);
    CHECK(model == NULL && strstr(wm_last_error(), "struct_size") != NULL);
  }
  /* an old caller's tensor info: fields past its struct_size untouched */
  {
    wm_tensor_info small;
    model = open_one(path, NULL);
    memset(&small, 0xAB, sizeof small);
    small.struct_size = offsetof(wm_tensor_info, dtype_name);
    CHECK_OK(wm_model_tensor_info(model, 0, &small));
    CHECK(strcmp(small.name, "w.weight") == 0 && small.dtype == WM_DTYPE_F32);
    CHECK(small.ndim == 0xABABABABu);
    CHECK_OK(wm_model_release(model, 0));
  }
  free(expected);
}

/* LoRA: W += strength * B @ A, merged into a copy-on-write page (the
 * tensor moves), then removed (it moves back to the file's bytes). */
static void test_lora(const char* path, const char* lora_path, long data_start) {
  wm_model* model = open_one(path, NULL);
  wm_lora_spec spec;
  wm_lora_options lora_options = wm_lora_options_default();
  wm_lora_result result;
  wm_tensor_info before = info_of(model, "w.weight"), after;
  uint64_t generation = 99;
  unsigned char* file_bytes = read_file_at(path, data_start, 64);
  int r, c;

  spec.path = lora_path;
  spec.strength = 0.5f;
  lora_options.mode = WM_LORA_IMMEDIATELY;
  memset(&result, 0, sizeof result);
  result.struct_size = sizeof result;
  CHECK_OK(wm_model_apply_loras(model, &spec, 1, &lora_options, &result));
  CHECK(result.tensors_patched == 1 && result.tensors_at_runtime == 0 && result.unmatched == 0);
  CHECK(result.n_moved == 1 && result.moved[0] == 0 && result.generation == 1);
  after = info_of(model, "w.weight");
  CHECK(after.generation == 1 && after.host_data != before.host_data);
  for (r = 0; r < 4; ++r)
    for (c = 0; c < 4; ++c) {
      float want = w_value(r * 4 + c) + 0.5f * kLoraB[r] * kLoraA[c];
      CHECK(fabsf(f32_at(after.host_data, (size_t)(r * 4 + c)) - want) <= 1e-6f);
    }
  wm_lora_result_free(&result);
  CHECK(result.moved == NULL && result.n_moved == 0);

  CHECK_OK(wm_model_remove_loras(model, &result));
  CHECK(result.n_moved == 1 && result.moved[0] == 0 && result.generation == 2);
  CHECK_OK(wm_model_generation(model, &generation));
  CHECK(generation == 2);
  after = info_of(model, "w.weight");
  CHECK(memcmp(after.host_data, file_bytes, 64) == 0);
  wm_lora_result_free(&result);

  /* a LoRA file that is not there: nothing changes, the path is named */
  spec.path = "/nonexistent/lora.safetensors";
  CHECK(wm_model_apply_loras(model, &spec, 1, NULL, NULL) == WM_ERR_NOT_FOUND);
  CHECK(strstr(wm_last_error(), "/nonexistent/lora.safetensors") != NULL);
  CHECK_OK(wm_model_release(model, 0));

  /* LoRA through the options, at open */
  {
    wm_options options = wm_options_default();
    spec.path = lora_path;
    options.loras = &spec;
    options.n_loras = 1;
    options.lora_mode = WM_LORA_IMMEDIATELY;
    model = open_one(path, &options);
    after = info_of(model, "w.weight");
    CHECK(fabsf(f32_at(after.host_data, 5) - (w_value(5) + 0.5f * kLoraB[1] * kLoraA[1])) <= 1e-6f);
    CHECK_OK(wm_model_release(model, 0));
  }
  free(file_bytes);
}

/* ---- tensor parallel: shard_rank / shard_world / shard_rules ------------ */

/* The number after `key` inside the report's "shard" object. */
static uint64_t shard_json_u64(const char* json, const char* key) {
  const char* shard = strstr(json, "\"shard\":{");
  const char* at;
  char pattern[64];
  CHECK(shard != NULL);
  snprintf(pattern, sizeof pattern, "\"%s\":", key);
  at = strstr(shard, pattern);
  CHECK(at != NULL && at < strchr(shard, '}'));
  return strtoull(at + strlen(pattern), NULL, 10);
}

static uint64_t sum_nbytes(const wm_model* model) {
  size_t count = 0, i;
  uint64_t sum = 0;
  CHECK_OK(wm_model_tensor_count(model, &count));
  for (i = 0; i < count; ++i) {
    wm_tensor_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    CHECK_OK(wm_model_tensor_info(model, i, &info));
    sum += info.nbytes;
  }
  return sum;
}

/* Rank 1 of 2: a row slice stays mapped (the file's bytes in place), a
 * padded one is a zero-filled copy, a column slice a gathered copy; the
 * report's shard bytes against the unsharded load; the errors; an old
 * caller's structs. */
static void test_shard(const char* st_path, long st_start, const char* gguf_path) {
  wm_options options = wm_options_default();
  wm_model *whole, *model = NULL;
  wm_tensor_info w, v, a;
  unsigned char* expected = read_file_at(st_path, st_start, 76);
  char* json = NULL;
  uint64_t whole_bytes;
  int32_t value;
  int i;

  CHECK(options.shard_rank == 0 && options.shard_world == 1 && options.shard_rules == NULL);
  whole = open_one(st_path, NULL);
  whole_bytes = sum_nbytes(whole);
  CHECK(whole_bytes == 76);
  w = info_of(whole, "w.weight");
  CHECK(w.slice_dim == WM_SLICE_NONE && w.slice_start == 0 && w.slice_count == 0 && w.slice_padded == 0);
  CHECK(w.full_shape != NULL && w.full_shape[0] == 4 && w.full_shape[1] == 4);
  CHECK_OK(wm_model_report_json(whole, 0, &json));
  CHECK(shard_json_u64(json, "rank") == 0 && shard_json_u64(json, "world") == 1);
  CHECK(shard_json_u64(json, "bytes") == whole_bytes && shard_json_u64(json, "full_bytes") == whole_bytes);
  wm_free(json);
  CHECK_OK(wm_model_release(whole, 0));

  /* rows: w.weight [4, 4] -> rows 2..3, mapped; v [3] replicated */
  options.prefetch = WM_PREFETCH_WAIT;
  options.shard_rank = 1;
  options.shard_world = 2;
  options.shard_rules = "w.weight=rows";
  model = open_one(st_path, &options);
  w = info_of(model, "w.weight");
  CHECK(w.ndim == 2 && w.shape[0] == 2 && w.shape[1] == 4 && w.nbytes == 32);
  CHECK(w.slice_dim == WM_SLICE_ROWS && w.slice_start == 2 && w.slice_count == 2 && w.slice_padded == 0);
  CHECK(w.full_shape[0] == 4 && w.full_shape[1] == 4);
  CHECK(w.placement == WM_PLACEMENT_MAP && strcmp(w.reason, "") == 0);
  CHECK(w.file_offset == (uint64_t)st_start + 32);
  CHECK(memcmp(w.host_data, expected + 32, 32) == 0);
  for (i = 0; i < 8; ++i) CHECK(f32_at(w.host_data, (size_t)i) == w_value(8 + i));
  v = info_of(model, "v");
  CHECK(v.slice_dim == WM_SLICE_NONE && v.ndim == 1 && v.shape[0] == 3 && v.full_shape[0] == 3);
  CHECK_OK(wm_model_report_json(model, 1, &json));
  CHECK(shard_json_u64(json, "rank") == 1 && shard_json_u64(json, "world") == 2);
  CHECK(shard_json_u64(json, "tensors_rows") == 1 && shard_json_u64(json, "tensors_cols") == 0);
  CHECK(shard_json_u64(json, "tensors_replicated") == 1);
  CHECK(shard_json_u64(json, "bytes") == sum_nbytes(model) && shard_json_u64(json, "bytes") == 32 + 12);
  CHECK(shard_json_u64(json, "full_bytes") == whole_bytes);
  CHECK(strstr(json, "\"rules\":\"w.weight=rows\"") != NULL);
  CHECK(strstr(json, "\"slice\":{\"dim\":\"rows\",\"start\":2,\"count\":2,\"padded\":0,\"full_shape\":[4,4]}") != NULL);
  wm_free(json);
  CHECK_OK(wm_model_release(model, 0));

  /* "*=rows": v's 3 rows do not divide by 2, refused naming it ... */
  options.shard_rules = "*=rows";
  CHECK(wm_model_open(&st_path, 1, &options, &model) == WM_ERR_UNSUPPORTED);
  CHECK(model == NULL && strcmp(wm_last_error_tensor(), "v") == 0);
  CHECK(strstr(wm_last_error(), "':pad'") != NULL);
  /* ... and padded: rank 1 gets v[2] then one zero, in a copy */
  options.shard_rules = "*=rows:pad";
  model = open_one(st_path, &options);
  v = info_of(model, "v");
  CHECK(v.ndim == 1 && v.shape[0] == 2 && v.nbytes == 8 && v.full_shape[0] == 3);
  CHECK(v.slice_dim == WM_SLICE_ROWS && v.slice_start == 2 && v.slice_count == 1 && v.slice_padded == 1);
  CHECK(v.placement == WM_PLACEMENT_COPY && strlen(v.reason) > 0);
  memcpy(&value, v.host_data, 4);
  CHECK(value == 9);
  memcpy(&value, (const unsigned char*)v.host_data + 4, 4);
  CHECK(value == 0);
  CHECK_OK(wm_model_release(model, 0));

  /* columns: GGUF "a" F32 [2, 4] -> columns 2..3 of each row, a gathered copy */
  options.shard_rules = "a=cols";
  model = open_one(gguf_path, &options);
  a = info_of(model, "a");
  CHECK(a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 2 && a.nbytes == 16);
  CHECK(a.slice_dim == WM_SLICE_COLS && a.slice_start == 2 && a.slice_count == 2 && a.slice_padded == 0);
  CHECK(a.full_shape[0] == 2 && a.full_shape[1] == 4);
  CHECK(a.placement == WM_PLACEMENT_COPY);
  CHECK(f32_at(a.host_data, 0) == kA[2] && f32_at(a.host_data, 1) == kA[3]);
  CHECK(f32_at(a.host_data, 2) == kA[6] && f32_at(a.host_data, 3) == kA[7]);
  CHECK_OK(wm_model_release(model, 0));

  /* a quantised tensor is cut between blocks only: Q8_0 [32] is one block */
  options.shard_rules = "q=cols";
  CHECK(wm_model_open(&gguf_path, 1, &options, &model) == WM_ERR_UNSUPPORTED);
  CHECK(strcmp(wm_last_error_tensor(), "q") == 0);

  /* bad rank, bad rule */
  options.shard_rules = "w.weight=rows";
  options.shard_rank = 2;
  CHECK(wm_model_open(&st_path, 1, &options, &model) == WM_ERR_INVALID_ARGUMENT);
  CHECK(strstr(wm_last_error(), "rank 2") != NULL);
  options.shard_rank = 0;
  options.shard_rules = "w.weight=diagonal";
  CHECK(wm_model_open(&st_path, 1, &options, &model) == WM_ERR_INVALID_ARGUMENT);
  CHECK(strstr(wm_last_error(), "diagonal") != NULL);

  /* an old caller: its wm_options ends before shard_rank, so the shard
   * fields past its end are never read (whole tensors) */
  {
    size_t old_size = offsetof(wm_options, shard_rank);
    wm_options* old = (wm_options*)malloc(old_size);
    wm_tensor_info small;
    CHECK(old != NULL);
    options.shard_rank = 1;
    options.shard_rules = "w.weight=rows";
    options.struct_size = old_size;
    memcpy(old, &options, old_size);
    model = NULL;
    CHECK_OK(wm_model_open(&st_path, 1, old, &model));
    w = info_of(model, "w.weight");
    CHECK(w.shape[0] == 4 && w.slice_dim == WM_SLICE_NONE && w.nbytes == 64);
    CHECK_OK(wm_model_release(model, 0));
    free(old);

    /* and an old caller's tensor info, sharded: the slice fields untouched */
    options.struct_size = sizeof options;
    model = open_one(st_path, &options);
    memset(&small, 0xAB, sizeof small);
    small.struct_size = offsetof(wm_tensor_info, slice_dim);
    CHECK_OK(wm_model_tensor_info_by_name(model, "w.weight", &small));
    CHECK(small.shape[0] == 2 && small.nbytes == 32 && small.generation == 0);
    CHECK(small.slice_start == 0xABABABABABABABABull);
    CHECK_OK(wm_model_release(model, 0));
  }
  free(expected);
}

/* ---- a device written in C: malloc'ed buffers, uploads recorded --------- */

typedef struct {
  int allocations, frees, uploads, releases, syncs;
  uint64_t uploaded_bytes;
  int fail_allocations, fail_uploads; /* to test the failure paths */
} c_device_state;

/* ---- tensor parallel with a C collective: two ranks as two threads ------- */

#ifndef _WIN32
/* A wm_collective among the threads of this process: a generation barrier
 * and one published pointer per rank. */
typedef struct thread_group {
  pthread_mutex_t mutex;
  pthread_cond_t cond;
  unsigned arrived, generation;
  const void* send[2];
  const uint64_t* counts[2];
  const uint64_t* offsets[2];
} thread_group;

typedef struct thread_rank {
  thread_group* group;
  unsigned rank;
  int fail_allgather;  /* nonzero: allgather returns this (a broken communicator) */
} thread_rank;

static void group_barrier(thread_group* g) {
  unsigned gen;
  CHECK(pthread_mutex_lock(&g->mutex) == 0);
  gen = g->generation;
  if (++g->arrived == 2) {
    g->arrived = 0;
    ++g->generation;
    CHECK(pthread_cond_broadcast(&g->cond) == 0);
  } else {
    while (gen == g->generation) CHECK(pthread_cond_wait(&g->cond, &g->mutex) == 0);
  }
  CHECK(pthread_mutex_unlock(&g->mutex) == 0);
}

static int rank_allgather(void* user, const void* mine, size_t n, void* all) {
  thread_rank* r = (thread_rank*)user;
  unsigned k;
  if (r->fail_allgather) return r->fail_allgather;
  r->group->send[r->rank] = mine;
  group_barrier(r->group);
  for (k = 0; k < 2; ++k) memcpy((unsigned char*)all + k * n, r->group->send[k], n);
  group_barrier(r->group);
  return 0;
}

static int rank_alltoallv(void* user, const void* send, const uint64_t* send_counts, const uint64_t* send_offsets,
                          void* recv, const uint64_t* recv_counts, const uint64_t* recv_offsets) {
  thread_rank* r = (thread_rank*)user;
  thread_group* g = r->group;
  unsigned k;
  int rc = 0;
  g->send[r->rank] = send;
  g->counts[r->rank] = send_counts;
  g->offsets[r->rank] = send_offsets;
  group_barrier(g);
  for (k = 0; k < 2; ++k) {
    if (g->counts[k][r->rank] != recv_counts[k]) rc = 99;
    else if (recv_counts[k]) memcpy((unsigned char*)recv + recv_offsets[k],
                                    (const unsigned char*)g->send[k] + g->offsets[k][r->rank], recv_counts[k]);
  }
  group_barrier(g);
  return rc;
}

typedef struct exchange_run {
  thread_rank rank;
  const char* path;
  wm_status status;
  wm_model* model;
} exchange_run;

static void* open_as_rank(void* arg) {
  exchange_run* run = (exchange_run*)arg;
  wm_collective c;
  wm_options options = wm_options_default();
  c.user_data = &run->rank;
  c.allgather = rank_allgather;
  c.alltoallv = rank_alltoallv;
  options.shard_rank = run->rank.rank;
  options.shard_world = 2;
  options.shard_rules = "w.weight=rows,v=replicate";
  options.shard_collective = &c;
  options.prefetch = WM_PREFETCH_WAIT;
  run->status = wm_model_open(&run->path, 1, &options, &run->model);
  return NULL;
}

/* Each rank opens its own copy of the model: the ranks choose the exchange
 * mode, each gets its rows of w.weight (mapped, from its staged copy) and
 * all of v, equal to the file's bytes; a collective that fails fails the
 * open, naming the operation. */
static void test_shard_exchange(const char* st_path, long st_start) {
  wm_options options = wm_options_default();
  unsigned char* expected = read_file_at(st_path, st_start, 76);
  unsigned char* copy;
  char copy_path[4096];
  thread_group group;
  exchange_run runs[2];
  pthread_t threads[2];
  unsigned r;
  char* json = NULL;

  CHECK(options.shard_collective == NULL && options.shard_mode == WM_SHARD_AUTO);
  CHECK(options.shard_staging_dir == NULL && options.shard_exchange_round_bytes == 16u << 20);
  copy = read_file_at(st_path, 0, (size_t)st_start + 76);
  write_file(path_of("model.rank1.safetensors", copy_path, sizeof copy_path), copy, (size_t)st_start + 76);
  free(copy);

  memset(&group, 0, sizeof group);
  CHECK(pthread_mutex_init(&group.mutex, NULL) == 0 && pthread_cond_init(&group.cond, NULL) == 0);
  memset(runs, 0, sizeof runs);
  for (r = 0; r < 2; ++r) {
    runs[r].rank.group = &group;
    runs[r].rank.rank = r;
    runs[r].path = r == 0 ? st_path : copy_path;
    CHECK(pthread_create(&threads[r], NULL, open_as_rank, &runs[r]) == 0);
  }
  for (r = 0; r < 2; ++r) CHECK(pthread_join(threads[r], NULL) == 0);
  for (r = 0; r < 2; ++r) {
    wm_tensor_info w, v;
    CHECK(runs[r].status == WM_OK && runs[r].model != NULL);
    w = info_of(runs[r].model, "w.weight");
    CHECK(w.shape[0] == 2 && w.nbytes == 32 && w.slice_start == 2 * r);
    CHECK(w.placement == WM_PLACEMENT_MAP);
    CHECK(memcmp(w.host_data, expected + 32 * r, 32) == 0);
    v = info_of(runs[r].model, "v");
    CHECK(v.nbytes == 12 && memcmp(v.host_data, expected + 64, 12) == 0);
    CHECK_OK(wm_model_report_json(runs[r].model, 0, &json));
    CHECK(strstr(json, "\"mode\":\"exchange\"") != NULL);
    CHECK(shard_json_u64(json, "staged_bytes") == 32 + 12);
    wm_free(json);
    CHECK_OK(wm_model_release(runs[r].model, 0));
  }

  /* A communicator that fails: the open fails on the rank that saw it. */
  runs[0].rank.fail_allgather = 7;
  runs[0].model = NULL;
  open_as_rank(&runs[0]);
  CHECK(runs[0].status != WM_OK && runs[0].model == NULL);
  CHECK(strstr(wm_last_error(), "allgather returned 7") != NULL);

  CHECK(pthread_mutex_destroy(&group.mutex) == 0 && pthread_cond_destroy(&group.cond) == 0);
  free(expected);
}
#else
/* Staged copies (the exchange mode) are not available on Windows. */
static void test_shard_exchange(const char* st_path, long st_start) {
  (void)st_path;
  (void)st_start;
  printf("capi_test: test_shard_exchange skipped: no staged copies on Windows\n");
}
#endif

/* Aligned memory in plain C99 (posix_memalign and aligned_alloc are not in
 * every C runtime): the block malloc gave is kept just below the aligned one. */
static void* c_aligned_alloc(uint64_t alignment, uint64_t nbytes) {
  unsigned char* raw;
  uintptr_t aligned;
  if (alignment < sizeof(void*)) alignment = sizeof(void*);
  raw = (unsigned char*)malloc((size_t)(nbytes + alignment + sizeof(void*)));
  if (raw == NULL) return NULL;
  aligned = ((uintptr_t)(raw + sizeof(void*)) + (uintptr_t)alignment - 1) / (uintptr_t)alignment * (uintptr_t)alignment;
  memcpy((void*)(aligned - sizeof(void*)), &raw, sizeof raw);
  return (void*)aligned;
}
static void c_aligned_free(void* p) {
  void* raw;
  if (p == NULL) return;
  memcpy(&raw, (unsigned char*)p - sizeof(void*), sizeof raw);
  free(raw);
}

static wm_status c_allocate(void* user, uint64_t nbytes, uint32_t alignment, wm_device_buffer* out) {
  c_device_state* st = (c_device_state*)user;
  void* p = NULL;
  if (st->fail_allocations) return WM_ERR_OUT_OF_MEMORY;
  p = c_aligned_alloc(alignment, nbytes ? nbytes : 1);
  if (p == NULL) return WM_ERR_OUT_OF_MEMORY;
  out->handle = p;
  out->id = (uint64_t)++st->allocations;
  out->host_ptr = NULL; /* a device the host cannot write: everything is uploaded */
  out->nbytes = nbytes;
  return WM_OK;
}
static void c_free(void* user, const wm_device_buffer* buffer) {
  ++((c_device_state*)user)->frees;
  c_aligned_free(buffer->handle);
}
static void c_upload(void* user, const wm_device_buffer* buffer, uint64_t offset, const void* src, uint64_t n,
                     wm_upload_done_fn done, void* done_context) {
  c_device_state* st = (c_device_state*)user;
  CHECK(offset + n <= buffer->nbytes);
  if (st->fail_uploads) {
    done(done_context, WM_ERR_DEVICE, "the DMA engine is on fire");
    return;
  }
  memcpy((unsigned char*)buffer->handle + offset, src, n);
  ++st->uploads;
  st->uploaded_bytes += n;
  done(done_context, WM_OK, NULL);
}
static wm_status c_synchronize(void* user) {
  ++((c_device_state*)user)->syncs;
  return WM_OK;
}
static wm_status c_download(void* user, const wm_device_buffer* buffer, uint64_t offset, void* dst, uint64_t n) {
  (void)user;
  memcpy(dst, (const unsigned char*)buffer->handle + offset, n);
  return WM_OK;
}
static void c_release(void* user) { ++((c_device_state*)user)->releases; }

static void test_c_device(const char* path, const bytes* file) {
  c_device_state st;
  wm_device dev;
  const wm_device* devices[1];
  wm_options options = wm_options_default();
  wm_model* model;
  wm_tensor_info a, b, q;

  memset(&st, 0, sizeof st);
  memset(&dev, 0, sizeof dev);
  dev.struct_size = sizeof dev;
  dev.user_data = &st;
  dev.name = "cdev";
  dev.alignment = 64;
  dev.allocate = c_allocate;
  dev.free = c_free;
  dev.upload = c_upload;
  dev.synchronize = c_synchronize;
  dev.download = c_download;
  dev.release = c_release;
  devices[0] = &dev;
  options.devices = devices;
  options.n_devices = 1;
  options.device_rules = "a=cdev,b=cdev";
  options.threads = 1; /* this device's counters are not thread-safe */
  model = open_one(path, &options);

  a = info_of(model, "a");
  CHECK(a.on_device && a.host_data == NULL && a.device == 2 && strcmp(a.device_name, "cdev") == 0);
  CHECK(a.placement == WM_PLACEMENT_COPY && strlen(a.reason) > 0);
  CHECK(a.device_buffer.handle != NULL && a.device_buffer.nbytes >= 32);
  CHECK((uintptr_t)a.device_buffer.handle % 64 == 0);
  CHECK(memcmp(a.device_buffer.handle, file->p + gguf_data_start, 32) == 0);
  b = info_of(model, "b");
  CHECK(b.on_device && memcmp(b.device_buffer.handle, file->p + gguf_data_start + 32, 16) == 0);
  q = info_of(model, "q");
  CHECK(!q.on_device && strcmp(q.device_name, "cpu") == 0 && q.placement == WM_PLACEMENT_MAP);
  CHECK(st.allocations == 2 && st.uploads >= 2 && st.uploaded_bytes == 48 && st.syncs >= 1);
  CHECK(st.releases == 0);
  CHECK_OK(wm_model_release(model, 0));
  CHECK(st.frees == st.allocations && st.releases == 1);

  /* the device's failures fail the open, with its status and message,
   * and everything it allocated is freed */
  memset(&st, 0, sizeof st);
  st.fail_allocations = 1;
  CHECK(wm_model_open(&path, 1, &options, &model) == WM_ERR_OUT_OF_MEMORY);
  CHECK(model == NULL && strstr(wm_last_error(), "cdev") != NULL);
  CHECK(st.releases == 1 && st.frees == st.allocations);
  memset(&st, 0, sizeof st);
  st.fail_uploads = 1;
  CHECK(wm_model_open(&path, 1, &options, &model) == WM_ERR_DEVICE);
  CHECK(strstr(wm_last_error(), "the DMA engine is on fire") != NULL && strstr(wm_last_error(), "cdev") != NULL);
  CHECK(st.releases == 1 && st.frees == st.allocations && st.allocations > 0);

  /* a device without its required callbacks is refused, by index */
  dev.upload = NULL;
  CHECK(wm_model_open(&path, 1, &options, &model) == WM_ERR_INVALID_ARGUMENT);
  CHECK(strstr(wm_last_error(), "devices[0]") != NULL);
}

/* ---- errors that name the file ------------------------------------------ */

static void test_errors(const char* gguf_path, const bytes* gguf) {
  char bad[4096], truncated[4096], missing[4096];
  wm_model* model = (wm_model*)&model; /* not NULL: a failed open must clear it */
  const char* p;
  size_t n = 0;
  int64_t i64;
  unsigned char* copy = (unsigned char*)malloc(gguf->n);
  CHECK(copy != NULL);

  memcpy(copy, gguf->p, gguf->n);
  memcpy(copy, "GGUX", 4);
  p = path_of("bad_magic.gguf", bad, sizeof bad);
  write_file(p, copy, gguf->n);
  CHECK(wm_model_open(&p, 1, NULL, &model) == WM_ERR_BAD_FORMAT);
  CHECK(model == NULL);
  CHECK(strstr(wm_last_error(), "bad_magic.gguf") != NULL && strcmp(wm_last_error_file(), p) == 0);

  p = path_of("truncated.gguf", truncated, sizeof truncated);
  write_file(p, gguf->p, gguf->n - 10); /* the last tensor's bytes cut short */
  CHECK(wm_model_open(&p, 1, NULL, &model) == WM_ERR_BAD_FORMAT);
  CHECK(strstr(wm_last_error(), "truncated.gguf") != NULL);

  p = path_of("missing.safetensors", missing, sizeof missing);
  CHECK(wm_model_open(&p, 1, NULL, &model) == WM_ERR_NOT_FOUND);
  CHECK(strstr(wm_last_error(), "missing.safetensors") != NULL);
  CHECK(strcmp(wm_status_name(wm_last_error_code()), "not_found") == 0);

  /* bad options: rules that do not parse */
  {
    wm_options options = wm_options_default();
    options.device_rules = "a=";
    CHECK(wm_model_open(&gguf_path, 1, &options, &model) == WM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(wm_last_error(), "device rules") != NULL);
  }

  /* NULL arguments: refused with the parameter named, never a crash */
  CHECK(wm_model_open(NULL, 1, NULL, &model) == WM_ERR_INVALID_ARGUMENT);
  CHECK(strstr(wm_last_error(), "paths") != NULL);
  CHECK(wm_model_open(&gguf_path, 1, NULL, NULL) == WM_ERR_INVALID_ARGUMENT);
  CHECK(wm_model_open(&gguf_path, 0, NULL, &model) == WM_ERR_INVALID_ARGUMENT);
  CHECK(wm_model_tensor_count(NULL, &n) == WM_ERR_INVALID_ARGUMENT);
  CHECK(strstr(wm_last_error(), "model") != NULL);
  CHECK(wm_model_metadata_int(NULL, "k", &i64) == WM_ERR_INVALID_ARGUMENT);
  CHECK(wm_model_report_json(NULL, 0, NULL) == WM_ERR_INVALID_ARGUMENT);
  CHECK(wm_model_release(NULL, 0) == WM_OK);
  model = open_one(gguf_path, NULL);
  CHECK(wm_model_metadata_int(model, NULL, &i64) == WM_ERR_INVALID_ARGUMENT);
  CHECK(wm_model_metadata_int(model, "test.i32", NULL) == WM_ERR_INVALID_ARGUMENT);
  CHECK(wm_model_tensor_info_by_name(model, "a", NULL) == WM_ERR_INVALID_ARGUMENT);
  CHECK(wm_model_tensor_count(model, NULL) == WM_ERR_INVALID_ARGUMENT);
  {
    wm_tensor_info info;
    info.struct_size = 0; /* never set */
    CHECK(wm_model_tensor_info(model, 0, &info) == WM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(wm_last_error(), "struct_size") != NULL);
  }
  CHECK_OK(wm_model_release(model, 0));
  free(copy);
}

/* ---- several threads reading one model at once ------------------------- */

typedef struct {
  const wm_model* model;
  const char* arch; /* the pointer the main thread got */
  int ok;
} reader_args;

/* Metadata (cached in the handle on first use) and tensor info from many
 * threads: the same pointers and values everywhere, and each thread's own
 * last error. */
static void* reader(void* arg) {
  reader_args* r = (reader_args*)arg;
  int i, ok = 1;
  for (i = 0; i < 200 && ok; ++i) {
    const char* s = NULL;
    const int64_t* ints = NULL;
    size_t n = 0;
    wm_tensor_info info;
    char key[32];
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    ok &= wm_model_metadata_string(r->model, "general.architecture", &s) == WM_OK && s == r->arch;
    ok &= wm_model_metadata_int_array(r->model, "test.ints", &ints, &n) == WM_OK && n == 3 && ints[1] == -2;
    ok &= wm_model_tensor_info_by_name(r->model, "a", &info) == WM_OK && f32_at(info.host_data, 7) == kA[7];
    sprintf(key, "absent.%d", i); /* a new key each time: a miss is never cached */
    ok &= wm_model_metadata_string(r->model, key, &s) == WM_ERR_NOT_FOUND && strstr(wm_last_error(), key) != NULL;
  }
  r->ok = ok;
  return NULL;
}

static void test_threads(const char* path) {
  wm_model* model = open_one(path, NULL);
  pthread_t threads[4];
  reader_args args[4];
  const char* arch = NULL;
  int i;
  CHECK_OK(wm_model_metadata_string(model, "general.architecture", &arch));
  for (i = 0; i < 4; ++i) {
    args[i].model = model;
    args[i].arch = arch;
    args[i].ok = 0;
    CHECK(pthread_create(&threads[i], NULL, reader, &args[i]) == 0);
  }
  for (i = 0; i < 4; ++i) {
    CHECK(pthread_join(threads[i], NULL) == 0);
    CHECK(args[i].ok);
  }
  CHECK(strcmp(wm_last_error(), "") == 0); /* the threads' failures are theirs */
  CHECK_OK(wm_model_release(model, 0));
}

/* ---- types, conversion, version ----------------------------------------- */

static void test_dtypes(const bytes* gguf) {
  float out[32];
  wm_dtype t = WM_DTYPE_F32;
  int i;
  const unsigned char* q = gguf->p + gguf_data_start + 64;
  const unsigned char* b = gguf->p + gguf_data_start + 32;

  CHECK(strcmp(wm_dtype_name(WM_DTYPE_Q4_K), "Q4_K") == 0);
  CHECK(wm_dtype_name(WM_DTYPE_COUNT) == NULL);
  CHECK(wm_dtype_block_elems(WM_DTYPE_Q8_0) == 32 && wm_dtype_block_bytes(WM_DTYPE_Q8_0) == 34);
  CHECK(wm_dtype_block_elems(WM_DTYPE_F16) == 1 && wm_dtype_block_bytes(WM_DTYPE_F16) == 2);
  CHECK(wm_dtype_block_elems(WM_DTYPE_Q4_K) == 256 && wm_dtype_block_bytes(WM_DTYPE_Q4_K) == 144);
  CHECK(wm_dtype_gguf_id(WM_DTYPE_Q8_0) == 8 && wm_dtype_gguf_id(WM_DTYPE_Q4_K) == 12);
  CHECK(wm_dtype_gguf_id(WM_DTYPE_F8_E4M3) == -1);
  CHECK_OK(wm_dtype_from_name("BF16", &t));
  CHECK(t == WM_DTYPE_BF16);
  CHECK(wm_dtype_from_name("F17", &t) == WM_ERR_NOT_FOUND && t == WM_DTYPE_BF16);

  /* Q8_0 -> F32: d * q, with d = 0.5 and q = i - 16 as written above */
  CHECK(wm_dtype_can_convert(WM_DTYPE_Q8_0, WM_DTYPE_F32));
  CHECK_OK(wm_dtype_convert(WM_DTYPE_Q8_0, WM_DTYPE_F32, q, 32, out, sizeof out));
  for (i = 0; i < 32; ++i) CHECK(out[i] == 0.5f * (float)(i - 16));
  /* F16 -> F32 */
  CHECK_OK(wm_dtype_convert(WM_DTYPE_F16, WM_DTYPE_F32, b, 8, out, sizeof out));
  for (i = 0; i < 8; ++i) CHECK(out[i] == kBValues[i]);
  CHECK(wm_dtype_convert(WM_DTYPE_F16, WM_DTYPE_F32, b, 8, out, 31) == WM_ERR_BUFFER_TOO_SMALL);
  CHECK(wm_dtype_convert(WM_DTYPE_Q8_0, WM_DTYPE_F32, q, 16, out, sizeof out) == WM_ERR_INVALID_ARGUMENT);
  CHECK(!wm_dtype_can_convert(WM_DTYPE_F32, WM_DTYPE_Q8_0));
  CHECK(wm_dtype_convert(WM_DTYPE_F32, WM_DTYPE_Q8_0, out, 32, out, sizeof out) == WM_ERR_UNSUPPORTED);
  CHECK(strstr(wm_last_error(), "Q8_0") != NULL);
  /* I64 -> I32: a value that does not fit is an error */
  {
    int64_t big[2] = {5, (int64_t)1 << 40};
    int32_t small[2];
    CHECK(wm_dtype_convert(WM_DTYPE_I64, WM_DTYPE_I32, big, 1, small, sizeof small) == WM_OK && small[0] == 5);
    CHECK(wm_dtype_convert(WM_DTYPE_I64, WM_DTYPE_I32, big, 2, small, sizeof small) == WM_ERR_BAD_FORMAT);
  }
}

static void test_version(void) {
  int major = -1, minor = -1, patch = -1;
  CHECK(sscanf(wm_version(), "%d.%d.%d", &major, &minor, &patch) == 3);
  CHECK(wm_version_number() == major * 10000 + minor * 100 + patch);
  CHECK(strcmp(wm_status_name(WM_OK), "ok") == 0);
  CHECK(strcmp(wm_status_name(WM_ERR_BAD_FORMAT), "bad_format") == 0);
  CHECK(strcmp(wm_status_name(WM_ERR_WRONG_TYPE), "wrong_type") == 0);
}

int main(int argc, char** argv) {
  char gguf_path[4096], st_path[4096], lora_path[4096];
  bytes gguf;
  long st_start;

  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  CHECK(strlen(argv[1]) < sizeof dir);
  strcpy(dir, argv[1]);

  gguf = make_gguf();
  write_file(path_of("model.gguf", gguf_path, sizeof gguf_path), gguf.p, gguf.n);
  st_start = make_safetensors(path_of("model.safetensors", st_path, sizeof st_path));
  make_lora(path_of("lora.safetensors", lora_path, sizeof lora_path));

  test_version();
  test_dtypes(&gguf);
  test_gguf(gguf_path, &gguf);
  test_safetensors(st_path, st_start);
  test_lora(st_path, lora_path, st_start);
  test_shard(st_path, st_start, gguf_path);
  test_shard_exchange(st_path, st_start);
  test_c_device(gguf_path, &gguf);
  test_threads(gguf_path);
  test_errors(gguf_path, &gguf);
  free(gguf.p);
  printf("capi_test: all checks passed\n");
  return 0;
}
