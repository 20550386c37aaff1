/* weightmap's C API: load model weights through memory mapping, from C or
 * any language with a C FFI (Rust, Go, C#, Zig, Python's ctypes).
 *
 * Plain C99 (also valid C++); no C++ type crosses it. It is a thin face over
 * the C++ API (weightmap/weightmap.hpp), with the same rules:
 *
 * - Handles are opaque: wm_model, made by wm_model_open, given back by
 *   wm_model_release.
 * - Every call returns a wm_status (WM_OK = 0). On failure the message
 *   (naming the file, tensor and byte offset where known) is in
 *   wm_last_error(), thread-local, and stays until the next wm_ call on
 *   the same thread (every call that returns a wm_status resets it). No C++
 *   exception ever crosses the boundary.
 * - Structs the caller fills or receives (wm_options, wm_tensor_info,
 *   wm_lora_result, wm_device, wm_lora_options) start with
 *   `size_t struct_size`: set it to sizeof the struct, or take the struct
 *   from its wm_*_default() function. The library reads (and writes) only
 *   the fields struct_size covers, so a program built against an older
 *   header keeps working when fields are added at the end; a struct_size
 *   larger than this library knows is refused (WM_ERR_UNSUPPORTED).
 * - Pointers the library returns stay valid as documented per call: "until
 *   release" means until wm_model_release on that model; "until LoRA"
 *   means until the next wm_model_apply_loras / wm_model_remove_loras on
 *   that model (host_data only); memory the caller owns is given back with
 *   wm_free.
 * - Thread safety (as wm::Model): every call on a model that does not
 *   change it (tensor info, metadata, wait_ready, report, generation) may
 *   run from any number of threads at once; wm_model_apply_loras,
 *   wm_model_remove_loras and wm_model_release must not run concurrently
 *   with anything else on the same model (including reads of its tensor
 *   bytes). Calls on different models are independent.
 *
 * Link: -lweightmap (pkg-config weightmap, or CMake weightmap::weightmap).
 */
#ifndef WEIGHTMAP_WEIGHTMAP_H
#define WEIGHTMAP_WEIGHTMAP_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  if defined(WEIGHTMAP_STATIC)
#    define WM_C_API
#  elif defined(WEIGHTMAP_BUILDING)
#    define WM_C_API __declspec(dllexport)
#  else
#    define WM_C_API __declspec(dllimport)
#  endif
#else
#  define WM_C_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status and errors ---------------------------------------------- */

/* One code per wm::ErrorCode (same meaning), then the C API's own. */
typedef enum wm_status {
  WM_OK = 0,
  WM_ERR_UNKNOWN = 1,            /* not classified (a bug if seen) */
  WM_ERR_NOT_FOUND = 2,          /* a file, tensor, device or metadata key that does not exist */
  WM_ERR_BAD_FORMAT = 3,         /* a file that is not what it claims */
  WM_ERR_UNSUPPORTED = 4,        /* valid input weightmap cannot handle */
  WM_ERR_CHANGED_ON_DISK = 5,    /* a file changed since it was opened */
  WM_ERR_OUT_OF_MEMORY = 6,      /* host or device memory ran out, or max_memory_bytes */
  WM_ERR_LIMIT_REACHED = 7,      /* a configured limit (mmap limits, open files) */
  WM_ERR_IO = 8,                 /* the operating system failed a call */
  WM_ERR_INVALID_ARGUMENT = 9,   /* bad options or arguments (NULL pointers, bad rules) */
  WM_ERR_DEVICE = 10,            /* a device failed */
  WM_ERR_WRONG_TYPE = 11,        /* a metadata key exists but holds another type */
  WM_ERR_BUFFER_TOO_SMALL = 12   /* a caller buffer cannot hold the result */
} wm_status;

/* "ok", "not_found", "bad_format", ...: stable names. Never NULL. */
WM_C_API const char* wm_status_name(wm_status status);

/* The last failure on this thread: the whole message ("file 'a.gguf':
 * tensor 'x' at byte 40: ..."); "" after a call that succeeded. Valid
 * until the next wm_ call on this thread. Never NULL. */
WM_C_API const char* wm_last_error(void);
WM_C_API wm_status wm_last_error_code(void);
/* Its parts: the file and tensor ("" when none), and the byte offset
 * (returns 0 and leaves *offset alone when unknown, else 1). */
WM_C_API const char* wm_last_error_file(void);
WM_C_API const char* wm_last_error_tensor(void);
WM_C_API int wm_last_error_offset(uint64_t* offset);

/* Frees memory the library gave the caller (report JSON, index lists).
 * NULL is allowed. */
WM_C_API void wm_free(void* p);

/* ---- version -------------------------------------------------------- */

/* The library linked at run time: "0.2.0", and major*10000+minor*100+patch. */
WM_C_API const char* wm_version(void);
WM_C_API int32_t wm_version_number(void);

/* ---- element types -------------------------------------------------- */

/* The values of wm::DType, in its order (fixed: new types come at the end). */
typedef enum wm_dtype {
  WM_DTYPE_F32, WM_DTYPE_F16, WM_DTYPE_BF16, WM_DTYPE_F64,
  WM_DTYPE_I8, WM_DTYPE_I16, WM_DTYPE_I32, WM_DTYPE_I64,
  WM_DTYPE_BOOL, WM_DTYPE_U8, WM_DTYPE_U16, WM_DTYPE_U32, WM_DTYPE_U64, WM_DTYPE_C64,
  WM_DTYPE_F8_E4M3, WM_DTYPE_F8_E5M2, WM_DTYPE_F8_E8M0, WM_DTYPE_F6_E2M3, WM_DTYPE_F6_E3M2, WM_DTYPE_F4,
  WM_DTYPE_Q4_0, WM_DTYPE_Q4_1, WM_DTYPE_Q5_0, WM_DTYPE_Q5_1, WM_DTYPE_Q8_0, WM_DTYPE_Q8_1,
  WM_DTYPE_Q2_K, WM_DTYPE_Q3_K, WM_DTYPE_Q4_K, WM_DTYPE_Q5_K, WM_DTYPE_Q6_K, WM_DTYPE_Q8_K,
  WM_DTYPE_IQ2_XXS, WM_DTYPE_IQ2_XS, WM_DTYPE_IQ3_XXS, WM_DTYPE_IQ1_S, WM_DTYPE_IQ4_NL,
  WM_DTYPE_IQ3_S, WM_DTYPE_IQ2_S, WM_DTYPE_IQ4_XS, WM_DTYPE_IQ1_M,
  WM_DTYPE_TQ1_0, WM_DTYPE_TQ2_0, WM_DTYPE_MXFP4,
  WM_DTYPE_COUNT
} wm_dtype;

/* "F16", "Q4_K", ...; NULL for a value that is not a type. */
WM_C_API const char* wm_dtype_name(wm_dtype type);
/* Any known name, GGUF or safetensors spelling. WM_ERR_NOT_FOUND if none. */
WM_C_API wm_status wm_dtype_from_name(const char* name, wm_dtype* type);
/* The ggml type id, or -1 when GGUF has none (or type is not a type). */
WM_C_API int32_t wm_dtype_gguf_id(wm_dtype type);
/* Elements and bytes per block (1 and the element size for plain types);
 * 0 for a value that is not a type. */
WM_C_API uint32_t wm_dtype_block_elems(wm_dtype type);
WM_C_API uint32_t wm_dtype_block_bytes(wm_dtype type);
/* Whether wm_dtype_convert turns `from` into `to` (1) or not (0). */
WM_C_API int wm_dtype_can_convert(wm_dtype from, wm_dtype to);
/* Converts `elements` values at `src` (type `from`) into `dst` (type `to`),
 * which holds `dst_bytes` bytes: at least elements / block_elems(to) *
 * block_bytes(to) (else WM_ERR_BUFFER_TOO_SMALL, nothing written). src and
 * dst must not overlap. Thread-safe. Errors as wm::dtype_convert:
 * WM_ERR_UNSUPPORTED (no such conversion), WM_ERR_INVALID_ARGUMENT (not
 * whole blocks), WM_ERR_BAD_FORMAT (an I64 value that does not fit I32). */
WM_C_API wm_status wm_dtype_convert(wm_dtype from, wm_dtype to, const void* src, uint64_t elements, void* dst,
                                    uint64_t dst_bytes);

/* ---- devices supplied from C ---------------------------------------- */

/* A buffer a C device allocated; weightmap never looks inside `handle`.
 * host_ptr non-NULL: the host may write it directly (no upload). */
typedef struct wm_device_buffer {
  void* handle;
  uint64_t id;
  void* host_ptr;
  uint64_t nbytes;
} wm_device_buffer;

/* Called once an upload has finished reading `src` (the device calls it
 * exactly once per upload, from any thread, at the latest before its
 * synchronize returns), with WM_OK or a failure and a message (may be NULL). */
typedef void (*wm_upload_done_fn)(void* done_context, wm_status status, const char* message);

/* wm::Device as function pointers. Every callback gets `user_data` first.
 * Threads as wm::Device: allocate/free from the loading thread, upload from
 * several loader threads at once, synchronize/download from the loading
 * thread or the engine's. The library copies this struct (and `name`,
 * `dtypes`) at open; `user_data` and the functions must stay usable until
 * every model opened with the device is released. `release` (optional) is
 * called once per wm_model_open given the device: when that model is
 * released, or before a failed open returns. Every buffer allocate gave is
 * freed (free) before that. */
typedef struct wm_device {
  size_t struct_size;        /* sizeof(wm_device) */
  void* user_data;
  /* caps */
  const char* name;          /* what device rules name; not "cpu" or "sim" */
  int reads_host_memory;     /* nonzero: mapped tensors are used in place */
  uint32_t alignment;        /* data addresses are multiples of this (>= 1) */
  const wm_dtype* dtypes;    /* dtypes it takes; NULL/0 = every dtype */
  size_t n_dtypes;
  /* required */
  wm_status (*allocate)(void* user_data, uint64_t nbytes, uint32_t alignment, wm_device_buffer* out);
  void (*free)(void* user_data, const wm_device_buffer* buffer);
  /* Starts copying n bytes from src to buffer at offset; calls done. */
  void (*upload)(void* user_data, const wm_device_buffer* buffer, uint64_t offset, const void* src, uint64_t n,
                 wm_upload_done_fn done, void* done_context);
  wm_status (*synchronize)(void* user_data);
  wm_status (*download)(void* user_data, const wm_device_buffer* buffer, uint64_t offset, void* dst, uint64_t n);
  /* optional (NULL): pinned staging memory, conversion on the device */
  void* (*allocate_staging)(void* user_data, uint64_t nbytes);
  void (*free_staging)(void* user_data, void* p, uint64_t nbytes);
  int (*converts)(void* user_data, wm_dtype from, wm_dtype to);
  void (*upload_converted)(void* user_data, const wm_device_buffer* buffer, uint64_t dst_offset, const void* src,
                           uint64_t n, wm_dtype from, wm_dtype to, uint64_t elements, wm_upload_done_fn done,
                           void* done_context);
  void (*release)(void* user_data);
} wm_device;

/* ---- options -------------------------------------------------------- */

typedef enum wm_prefetch { WM_PREFETCH_BACKGROUND, WM_PREFETCH_WAIT, WM_PREFETCH_NONE } wm_prefetch;
typedef enum wm_io_mode { WM_IO_READ, WM_IO_DIRECT, WM_IO_URING } wm_io_mode;
typedef enum wm_lora_mode { WM_LORA_AUTO, WM_LORA_IMMEDIATELY, WM_LORA_AT_RUNTIME } wm_lora_mode;
typedef enum wm_log_level { WM_LOG_DEBUG, WM_LOG_INFO, WM_LOG_WARN, WM_LOG_ERROR } wm_log_level;

/* May be called from the loader's threads at once: must be thread-safe.
 * `message` is valid during the call only. The log callback (and its
 * user_data) must stay valid until the model is released: a background
 * prefetch and LoRA calls log after open returns. The progress callback is
 * called during wm_model_open only. */
typedef void (*wm_log_fn)(void* user_data, wm_log_level level, const char* message);
typedef void (*wm_progress_fn)(void* user_data, uint64_t done_bytes, uint64_t total_bytes);

/* One LoRA to apply. Fixed layout (a new field would come as a new type). */
typedef struct wm_lora_spec {
  const char* path;
  float strength;  /* 1.0 = as trained */
} wm_lora_spec;

/* How the ranks of a tensor-parallel load talk to each other
 * (wm::Collective, weightmap/collective.hpp): to agree that each is ready
 * (or all fail naming the one that is not), to choose the shared or
 * exchange mode, and in the exchange mode to pass file bytes between them.
 * An engine fills it over its own communicator (MPI, NCCL, ...). Every rank
 * calls the same operations in the same order, from the thread that called
 * wm_model_open; each returns 0 when done, anything else fails the load on
 * this rank (with that number in the error). */
typedef struct wm_collective {
  void* user_data;
  /* Every rank gives `bytes` bytes at `mine`; `all` (world * bytes)
   * receives them in rank order, this rank's included. */
  int (*allgather)(void* user_data, const void* mine, size_t bytes, void* all);
  /* send_counts[j] bytes at send + send_offsets[j] go to rank j, which
   * receives them at its recv + recv_offsets[this rank]; recv_counts[k] is
   * what rank k sends here. Arrays of world entries; counts below 2^31. */
  int (*alltoallv)(void* user_data, const void* send, const uint64_t* send_counts, const uint64_t* send_offsets,
                   void* recv, const uint64_t* recv_counts, const uint64_t* recv_offsets);
} wm_collective;

/* wm::ShardMode: how the ranks get their bytes. */
typedef enum wm_shard_mode {
  WM_SHARD_AUTO = 0,     /* shared when every rank sees the same files on one host, else exchange */
  WM_SHARD_SHARED = 1,   /* each rank maps its files and reads only its slices */
  WM_SHARD_EXCHANGE = 2  /* each rank reads 1/world of its files; the ranks exchange (needs a collective) */
} wm_shard_mode;

/* Every field as wm::Options (weightmap/options.hpp says what each does);
 * NULL strings and 0-length arrays mean "none"; ints are booleans.
 * Everything is copied during wm_model_open: nothing needs to outlive it
 * except the devices (their callbacks and user_data) and the log callback. */
typedef struct wm_options {
  size_t struct_size;
  /* what to parse */
  const char* variant;                 /* diffusers variant ("fp16") */
  int metadata_arrays;                 /* keep GGUF metadata arrays (default 1) */
  const char* const* components;       /* diffusers components to load */
  size_t n_components;
  /* where tensors go */
  int use_mmap;                        /* default 1 */
  const char* device_rules;            /* "PATTERN=DEVICE,..." */
  const char* type_rules;              /* "PATTERN=DTYPE,..." */
  int offload_to_cpu;
  const wm_device* const* devices;     /* the engine's devices, by name */
  size_t n_devices;
  /* how bytes are read */
  uint32_t threads;                    /* default 2 */
  uint64_t staging_bytes;              /* default 64 MiB */
  const char* hints;                   /* "auto", "none", "sequential,willneed,..." */
  wm_prefetch prefetch;                /* default background */
  uint32_t prefetch_workers;           /* default 1 */
  wm_io_mode io;
  uint64_t cache_window_bytes;
  uint64_t max_memory_bytes;           /* 0: no limit */
  int lock_files;
  int mlock;
  /* LoRA applied right after the load */
  const wm_lora_spec* loras;
  size_t n_loras;
  wm_lora_mode lora_mode;
  const char* const* lora_prefix_rules;  /* "FROM=TO" each */
  size_t n_lora_prefix_rules;
  /* reporting */
  wm_log_fn log;
  void* log_user_data;
  wm_progress_fn progress;
  void* progress_user_data;
  /* tensor parallel (wm::ShardOptions): this process is rank shard_rank of
   * shard_world and loads only its slice of each tensor a rule splits */
  uint32_t shard_rank;                 /* default 0; must be below shard_world */
  uint32_t shard_world;                /* default 1 (1 with no rules: whole tensors) */
  const char* shard_rules;             /* "PATTERN=HOW,...", first match wins, unmatched
                                          tensors whole; HOW: rows, cols, rows:pad,
                                          cols:pad, rows[A:B], cols[A:B], replicate;
                                          presets "llama", "diffusion" */
  /* the other ranks (wm::ShardOptions::collective): NULL, each rank loads
   * alone (the shared mode); else it and its user_data must stay valid
   * during wm_model_open. Its world is shard_world, this rank shard_rank. */
  const wm_collective* shard_collective;
  wm_shard_mode shard_mode;            /* default WM_SHARD_AUTO */
  const char* shard_staging_dir;       /* exchange: staged copies' folder (default /dev/shm, $TMPDIR, /tmp) */
  uint64_t shard_exchange_round_bytes; /* exchange: bytes each rank reads per round (default 16 MiB) */
} wm_options;

/* The defaults (those of wm::Options{}), struct_size set. */
WM_C_API wm_options wm_options_default(void);

/* ---- a model -------------------------------------------------------- */

typedef struct wm_model wm_model;

/* Opens `n_paths` paths (GGUF, safetensors, a sharded index, a diffusers
 * folder, a PyTorch checkpoint) as one model. options NULL: the defaults.
 * On success *model is a new handle; on failure it is set to NULL. */
WM_C_API wm_status wm_model_open(const char* const* paths, size_t n_paths, const wm_options* options,
                                 wm_model** model);
/* Stops prefetching, unmaps the files, frees every buffer and the handle
 * (always, even on failure; NULL is allowed). With `evict` the files'
 * pages are dropped from the page cache too; the status is the first
 * eviction failure. Every pointer the model gave out dies here. */
WM_C_API wm_status wm_model_release(wm_model* model, int evict);

/* Tensors are numbered 0 .. count-1; an index past them is
 * WM_ERR_INVALID_ARGUMENT (as in wm::Model). */
WM_C_API wm_status wm_model_tensor_count(const wm_model* model, size_t* count);
WM_C_API wm_status wm_model_find(const wm_model* model, const char* name, size_t* index);
/* Blocks until tensor `index` can be read (a background prefetch may still
 * be reading it). */
WM_C_API wm_status wm_model_wait_ready(const wm_model* model, size_t index);
/* +1 on every LoRA apply/remove that changed anything. */
WM_C_API wm_status wm_model_generation(const wm_model* model, uint64_t* generation);
/* WM_ERR_CHANGED_ON_DISK naming the first file changed since the load. */
WM_C_API wm_status wm_model_check_files(const wm_model* model);

typedef enum wm_placement { WM_PLACEMENT_MAP, WM_PLACEMENT_COPY, WM_PLACEMENT_CONVERT } wm_placement;
/* Which part of the file's tensor a tensor holds (wm::SliceDim):
 * WM_SLICE_NONE the whole tensor, WM_SLICE_ROWS a range of its outermost
 * dimension, WM_SLICE_COLS a range of its innermost one. */
typedef enum wm_slice_dim { WM_SLICE_NONE, WM_SLICE_ROWS, WM_SLICE_COLS } wm_slice_dim;

/* One tensor. Strings, `shape` and `full_shape` are valid until release;
 * `host_data` until LoRA (re-read the tensors a LoRA call lists as moved).
 * With wm_options.shard_*: shape, nbytes and host_data are the slice's; a
 * row slice without padding of a mapped tensor stays mapped (zero copy),
 * a column or padded slice is gathered into a copy. */
typedef struct wm_tensor_info {
  size_t struct_size;         /* set by the caller: sizeof(wm_tensor_info) */
  const char* name;           /* qualified name */
  wm_dtype dtype;             /* as the engine gets it */
  const char* dtype_name;
  int32_t ggml_type;          /* -1 when GGUF has no such type */
  uint32_t ndim;
  const uint64_t* shape;      /* ndim values, outermost first */
  uint64_t nbytes;
  wm_placement placement;
  const char* reason;         /* why it is not mapped; "" when mapped */
  const void* host_data;      /* mapping or host copy; NULL when on a device */
  int on_device;              /* nonzero: the bytes are in device_buffer */
  wm_device_buffer device_buffer;
  int host_resident;          /* offloaded: in host memory for the engine to fetch */
  uint32_t device;            /* 0 "cpu", 1 "sim", then wm_options.devices in order */
  const char* device_name;
  const char* file;           /* where the bytes came from ... */
  uint64_t file_offset;       /* ... and at which byte */
  uint64_t generation;        /* model generation when its bytes/host_data last changed */
  /* tensor parallel: the slice of the file's tensor this is (wm::TensorSlice) */
  wm_slice_dim slice_dim;     /* WM_SLICE_NONE: the whole tensor (start, count, padded 0) */
  uint64_t slice_start;       /* first row (dim 0) or column (last dim) taken from the file */
  uint64_t slice_count;       /* rows or columns taken from the file */
  uint64_t slice_padded;      /* zero rows or columns after them (":pad" rules) */
  const uint64_t* full_shape; /* ndim values: the tensor's shape in the file (== shape when whole) */
} wm_tensor_info;

WM_C_API wm_status wm_model_tensor_info(const wm_model* model, size_t index, wm_tensor_info* info);
/* Unknown name: WM_ERR_NOT_FOUND, naming it. */
WM_C_API wm_status wm_model_tensor_info_by_name(const wm_model* model, const char* name, wm_tensor_info* info);

/* ---- metadata (GGUF key/values, safetensors __metadata__) ------------ */

/* Keys of every file, in file order; the key pointer is valid until release. */
WM_C_API wm_status wm_model_metadata_count(const wm_model* model, size_t* count);
WM_C_API wm_status wm_model_metadata_key(const wm_model* model, size_t index, const char** key);
/* Typed getters: WM_ERR_NOT_FOUND when the key is absent, WM_ERR_WRONG_TYPE
 * when it holds another type (nothing written then). Integers of any width
 * (and bools) that fit int64; floats (and integers) as double; bools only
 * from bool values (GGUF), as 0/1. Strings and arrays the library returns
 * are valid until release. An array whose items were not kept
 * (metadata_arrays 0) is WM_ERR_WRONG_TYPE. */
WM_C_API wm_status wm_model_metadata_int(const wm_model* model, const char* key, int64_t* value);
WM_C_API wm_status wm_model_metadata_double(const wm_model* model, const char* key, double* value);
WM_C_API wm_status wm_model_metadata_bool(const wm_model* model, const char* key, int* value);
WM_C_API wm_status wm_model_metadata_string(const wm_model* model, const char* key, const char** value);
WM_C_API wm_status wm_model_metadata_int_array(const wm_model* model, const char* key, const int64_t** values,
                                               size_t* count);
WM_C_API wm_status wm_model_metadata_double_array(const wm_model* model, const char* key, const double** values,
                                                  size_t* count);
WM_C_API wm_status wm_model_metadata_string_array(const wm_model* model, const char* key,
                                                  const char* const** values, size_t* count);
/* Any value as text (arrays "[a, b, ...]"), valid until release. */
WM_C_API wm_status wm_model_metadata_text(const wm_model* model, const char* key, const char** text);

/* ---- what the load did ---------------------------------------------- */

/* The report as one JSON object (what `weightmap load --json` prints under
 * "report"); per_tensor nonzero adds one entry per tensor (with a "slice"
 * object {"dim", "start", "count", "padded", "full_shape"} for a sliced
 * one). Its "shard" object is what wm_options.shard_* took: {"rank",
 * "world", "rules" (presets expanded), "source" (who chose rank and world;
 * "" from C), "tensors_rows", "tensors_cols",
 * "tensors_replicated", "bytes" (this rank's tensor bytes, source dtype,
 * padding included), "full_bytes" (the whole model's), "mode" ("shared" or
 * "exchange" when world > 1), "mode_reason", and for the exchange
 * "exchange_read_bytes", "exchange_sent_bytes", "exchange_received_bytes",
 * "staged_bytes", "exchange_rounds", "staging_dir"}. *json is a
 * NUL-terminated string the caller frees with wm_free. */
WM_C_API wm_status wm_model_report_json(const wm_model* model, int per_tensor, char** json);

/* ---- LoRA ----------------------------------------------------------- */

typedef struct wm_lora_options {
  size_t struct_size;
  wm_lora_mode mode;                     /* default auto */
  const char* const* prefix_rules;       /* "FROM=TO", tried before the built-in rules */
  size_t n_prefix_rules;
} wm_lora_options;
WM_C_API wm_lora_options wm_lora_options_default(void);

/* What a LoRA call did. The arrays (tensor indices, sorted) belong to the
 * caller: wm_lora_result_free gives them back. */
typedef struct wm_lora_result {
  size_t struct_size;           /* set by the caller: sizeof(wm_lora_result) */
  size_t* moved;                /* tensors whose host_data moved: re-read their info */
  size_t n_moved;
  size_t* changed_in_place;     /* same pointer, new bytes (host copies, device buffers) */
  size_t n_changed_in_place;
  uint64_t tensors_patched;     /* apply: merged into the weights */
  uint64_t tensors_at_runtime;  /* apply: left for the engine (wm::Model::lora_terms) */
  uint64_t unmatched;           /* apply: LoRA tensors that matched nothing (see the report) */
  uint64_t generation;          /* the model's generation afterwards */
} wm_lora_result;
/* Frees the arrays of a result (not the struct) and zeroes them; NULL ok. */
WM_C_API void wm_lora_result_free(wm_lora_result* result);

/* Applies `loras` (replacing any applied before); options NULL: defaults.
 * result may be NULL. Bad files fail before anything changes. Not
 * concurrent with anything else on the model. */
WM_C_API wm_status wm_model_apply_loras(wm_model* model, const wm_lora_spec* loras, size_t n_loras,
                                        const wm_lora_options* options, wm_lora_result* result);
/* Undoes every LoRA; result->moved lists the tensors whose host_data moved back. */
WM_C_API wm_status wm_model_remove_loras(wm_model* model, wm_lora_result* result);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif /* WEIGHTMAP_WEIGHTMAP_H */
