/* The README's C API example: open a model, list its tensors, read a
 * metadata key, print the load report. Build: cc -std=c99 c_api_example.c
 * $(pkg-config --cflags --libs weightmap). Run: c_api_example MODEL */
#include <stdio.h>

#include "weightmap/weightmap.h"

/* Prints the failed call's message (it names the file, tensor and offset). */
static int failed(const char* what, wm_status status) {
  fprintf(stderr, "%s: %s (%s)\n", what, wm_last_error(), wm_status_name(status));
  return 1;
}

int main(int argc, char** argv) {
  wm_options options = wm_options_default();
  wm_model* model = NULL;
  wm_status status;
  size_t count = 0, i;
  const char* arch = NULL;
  char* report = NULL;

  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL [MODEL...]\n", argv[0]);
    return 2;
  }
  options.prefetch = WM_PREFETCH_WAIT; /* open returns once the bytes are in memory */
  status = wm_model_open((const char* const*)(argv + 1), (size_t)(argc - 1), &options, &model);
  if (status != WM_OK) return failed("open", status);

  wm_model_tensor_count(model, &count); /* cannot fail on an open model */
  printf("weightmap %s: %zu tensors\n", wm_version(), count);
  for (i = 0; i < count; ++i) {
    wm_tensor_info info;
    uint32_t d;
    info.struct_size = sizeof info;
    status = wm_model_tensor_info(model, i, &info);
    if (status != WM_OK) {
      wm_model_release(model, 0);
      return failed("tensor info", status);
    }
    printf("  %-40s %-6s [", info.name, info.dtype_name);
    for (d = 0; d < info.ndim; ++d) printf(d ? ", %llu" : "%llu", (unsigned long long)info.shape[d]);
    printf("] %s%s%s\n", info.host_data ? "in host memory" : "on device", *info.reason ? ": " : "", info.reason);
  }

  /* A key that may be absent: WM_ERR_NOT_FOUND is an answer, not a failure. */
  status = wm_model_metadata_string(model, "general.architecture", &arch);
  if (status == WM_OK)
    printf("architecture: %s\n", arch);
  else if (status != WM_ERR_NOT_FOUND)
    fprintf(stderr, "general.architecture: %s\n", wm_last_error());

  if (wm_model_report_json(model, 0, &report) == WM_OK) {
    printf("report: %.200s...\n", report);
    wm_free(report);
  }
  status = wm_model_release(model, 0); /* frees everything; every pointer above dies here */
  return status == WM_OK ? 0 : failed("release", status);
}
