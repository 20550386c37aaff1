# The layers of src/, bottom up, and the layers each may use (include and
# link). The one table: the root CMakeLists.txt makes one OBJECT library per
# layer (wm_<layer>) linked to exactly these, and cmake/CheckLayers.cmake
# refuses an #include of any other layer. A new folder under src/ needs a
# line here. src/cli/ is not a layer: it may include anything.
set(WM_LAYERS common dtype io format device plan shard exchange load convert lora compute verify demo api capi)
set(WM_LAYER_USES_common  "")
set(WM_LAYER_USES_dtype   common)
set(WM_LAYER_USES_io      common)
set(WM_LAYER_USES_format  common dtype io)
set(WM_LAYER_USES_device  common dtype io)  # io: the allocation seam of fault injection
set(WM_LAYER_USES_plan    common dtype format device)
set(WM_LAYER_USES_shard   common dtype format plan)  # tensor-parallel slices: a table transform before the plan
set(WM_LAYER_USES_exchange common dtype io format)  # tensor-parallel ranks: agree, choose the mode, exchange bytes
set(WM_LAYER_USES_load    common dtype io format device plan shard exchange)
set(WM_LAYER_USES_convert common dtype io format device plan shard exchange load)
set(WM_LAYER_USES_lora    common dtype io format device plan shard exchange load)
set(WM_LAYER_USES_compute common dtype io format device plan shard exchange load lora)
set(WM_LAYER_USES_verify  common dtype io format device plan shard exchange load lora)
set(WM_LAYER_USES_demo    common dtype io format)
set(WM_LAYER_USES_api     common dtype io format device plan shard exchange load lora compute verify demo)
set(WM_LAYER_USES_capi    common dtype io format device plan shard exchange load lora compute verify demo api)  # the C API (include/weightmap/weightmap.h): over the public C++ API only
# Folders under src/ that are faces over the library, not layers: they may
# include any layer, and nothing may include them.
set(WM_LAYER_FREE cli)
