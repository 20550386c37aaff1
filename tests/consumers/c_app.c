/* A C engine as it uses an installed weightmap: weightmap.h only, C99,
 * linked through pkg-config. Writes a tiny safetensors file, opens it,
 * checks the tensor's shape and bytes, and an error that names its file.
 *   c_app WORK_DIR     prints "consumer ok (C)" and returns 0, or what failed and 1 */
#include <weightmap/weightmap.h>

#include <stdio.h>
#include <string.h>

static int check(int ok, const char* what) {
  if (!ok) printf("FAIL: %s (%s)\n", what, wm_last_error());
  return ok;
}

int main(int argc, char** argv) {
  static const char header[] = "{\"t\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}  ";
  const float values[4] = {1.0f, -2.0f, 0.5f, 8.0f};
  unsigned char len[8] = {0};
  char path[4096], missing[4096];
  const char* p = path;
  wm_model* model = NULL;
  wm_tensor_info info;
  FILE* f;
  int ok = 1;

  if (argc != 2) return 1;
  snprintf(path, sizeof path, "%s/c_app.safetensors", argv[1]);
  snprintf(missing, sizeof missing, "%s/absent.safetensors", argv[1]);
  len[0] = (unsigned char)(sizeof header - 1); /* 64: a multiple of 8 */
  f = fopen(path, "wb");
  if (!check(f != NULL, "create the model file")) return 1;
  fwrite(len, 1, 8, f);
  fwrite(header, 1, sizeof header - 1, f);
  fwrite(values, 1, sizeof values, f); /* little-endian host */
  fclose(f);

  if (!check(wm_model_open(&p, 1, NULL, &model) == WM_OK, "open")) return 1;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  ok &= check(wm_model_tensor_info_by_name(model, "t", &info) == WM_OK, "tensor info");
  ok &= check(info.dtype == WM_DTYPE_F32 && info.ndim == 2 && info.shape[0] == 2 && info.shape[1] == 2, "shape");
  ok &= check(wm_model_wait_ready(model, 0) == WM_OK, "wait_ready");
  ok &= check(info.host_data != NULL && memcmp(info.host_data, values, sizeof values) == 0, "bytes");
  ok &= check(wm_model_release(model, 0) == WM_OK, "release");
  p = missing;
  ok &= check(wm_model_open(&p, 1, NULL, &model) == WM_ERR_NOT_FOUND && strstr(wm_last_error(), "absent") != NULL,
              "a missing file is named");
  if (!ok) return 1;
  printf("consumer ok (C, weightmap %s)\n", wm_version());
  return 0;
}
