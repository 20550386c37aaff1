#!/usr/bin/env bash
# The consumer tests (CTest label "consumer", registered in tests/CMakeLists.txt):
# weightmap built, installed and used the ways engines use it. Each step is
# one test:
#   install KIND           configure, build and install weightmap (KIND: shared
#                          or static; Release, library only) into
#                          $WM_WORK/prefix-KIND: the fixture the others share
#   find_package KIND      tests/consumers/find_package against prefix-KIND
#   pkg_config KIND        app.cc (and the C engine c_app.c) built by hand with `pkg-config weightmap`
#   interface              what the shared prefix installs: headers (standard
#                          and weightmap/ includes only, each compiles alone as
#                          C++17), exported symbols (namespace wm only), the
#                          package files
#   vendored               tests/consumers/vendored: add_subdirectory(weightmap)
#                          in an engine with its own build type (configured
#                          and checked), built and run in Release
# Every consumer builds tests/consumers/app.cc and runs it ("consumer ok").
# Environment (set by CTest): WM_SOURCE_DIR, WM_WORK (scratch root), CMAKE,
# CXX, CC, WM_GENERATOR, WM_WERROR, WM_CXX_LAUNCHER. The library builds keep their objects between
# runs (the cache is made anew each time); consumers start from nothing.
set -euo pipefail

step="${1:?usage: consumer_test.sh install|find_package|pkg_config KIND, or interface|vendored}"
kind="${2:-}"
src="${WM_SOURCE_DIR:?}"
work="${WM_WORK:?}"
cmake="${CMAKE:-cmake}"
cxx="${CXX:-c++}"
cc="${CC:-cc}"
gen="${WM_GENERATOR:-Unix Makefiles}"
here="$src/tests/consumers"
mkdir -p "$work"
launcher=()  # the parent build's compiler launcher (ccache), for the library builds
[ -n "${WM_CXX_LAUNCHER:-}" ] && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER="$WM_CXX_LAUNCHER")

die() {
  echo "FAIL: $*"
  exit 1
}
prefix_of() {
  local p="$work/prefix-$1"
  [ -f "$p/.installed" ] || die "no installed prefix $p (the consumer_install_$1 test sets it up)"
  echo "$p"
}
# The lib folder of an installed prefix (lib, lib64 or lib/<multiarch>).
libdir_of() {
  local pc
  pc="$(find "$1" -name weightmap.pc -path '*/pkgconfig/*' | head -1)"
  [ -n "$pc" ] || die "no weightmap.pc under $1"
  dirname "$(dirname "$pc")"
}
run_app() {  # run_app BINARY: runs it in a scratch folder, expects "consumer ok"
  local bin="$1" dir out
  dir="$(dirname "$bin")/run"
  rm -rf "$dir" && mkdir -p "$dir"
  if ! out="$("$bin" "$dir" 2>&1)"; then
    echo "$out"
    die "$bin failed"
  fi
  echo "$out"
  grep -q '^consumer ok' <<<"$out" || die "$bin did not print 'consumer ok'"
}

start=$SECONDS
case "$step" in
  install)
    case "$kind" in shared) shared=ON ;; static) shared=OFF ;; *) die "install shared|static" ;; esac
    build="$work/build-$kind"
    prefix="$work/prefix-$kind"
    rm -rf "$prefix"
    rm -f "$build/CMakeCache.txt"
    "$cmake" -S "$src" -B "$build" -G "$gen" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release \
      -DBUILD_SHARED_LIBS=$shared -DWM_TESTS=OFF -DWM_BENCH=OFF -DWM_TOOLS=OFF -DWM_WERROR="${WM_WERROR:-OFF}" \
      -DCMAKE_INSTALL_PREFIX="$prefix" "${launcher[@]}"
    "$cmake" --build "$build" -j2
    "$cmake" --install "$build"
    touch "$prefix/.installed"
    echo "installed:"
    (cd "$prefix" && find . -type f -o -type l | grep -v '^./.installed$' | sort)
    ;;

  find_package)
    prefix="$(prefix_of "$kind")"
    build="$work/find_package-$kind"
    rm -rf "$build"
    # A shared libweightmap carries its dependencies: the consumer must not need their packages.
    hide=()
    [ "$kind" = shared ] && hide=(-DCMAKE_DISABLE_FIND_PACKAGE_fmt=ON -DCMAKE_DISABLE_FIND_PACKAGE_simdjson=ON
                                  -DCMAKE_DISABLE_FIND_PACKAGE_ZLIB=ON -DCMAKE_DISABLE_FIND_PACKAGE_Threads=ON)
    "$cmake" -S "$here/find_package" -B "$build" -G "$gen" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$prefix" "${hide[@]}"
    "$cmake" --build "$build" --verbose
    needed="$(readelf -d "$build/app" | grep NEEDED || true)"
    echo "$needed"
    if [ "$kind" = static ]; then
      ! grep -q libweightmap <<<"$needed" || die "static consumer needs libweightmap.so"
    else
      grep -q 'libweightmap.so.0.2' <<<"$needed" || die "shared consumer does not need libweightmap.so.0.2"
    fi
    run_app "$build/app"
    ;;

  pkg_config)
    prefix="$(prefix_of "$kind")"
    libdir="$(libdir_of "$prefix")"
    build="$work/pkg_config-$kind"
    rm -rf "$build" && mkdir -p "$build"
    export PKG_CONFIG_PATH="$libdir/pkgconfig"
    version="$(pkg-config --modversion weightmap)"
    [ "$version" = "$(sed -n 's/^project(weightmap VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")" ] ||
      die "pkg-config version $version"
    if [ "$kind" = static ]; then
      flags="$(pkg-config --static --cflags --libs weightmap)"
    else
      flags="$(pkg-config --cflags --libs weightmap) -Wl,-rpath,$(pkg-config --variable=libdir weightmap)"
    fi
    echo "pkg-config weightmap $version: $flags"
    # shellcheck disable=SC2086
    (set -x && "$cxx" -std=c++17 -Wall -Wextra -Werror "$here/app.cc" -o "$build/app" $flags)
    run_app "$build/app"
    # A C engine: weightmap.h compiled as C99; linked by the C++ driver when
    # the library is static (it needs the C++ runtime), by cc when shared.
    # shellcheck disable=SC2046  # pkg-config output: one word per flag
    (set -x && "$cc" -std=c99 -Wall -Wextra -Wpedantic -Werror -c "$here/c_app.c" -o "$build/c_app.o" \
      $(pkg-config --cflags weightmap))
    linker="$cc"
    [ "$kind" = static ] && linker="$cxx"
    # shellcheck disable=SC2086
    (set -x && "$linker" "$build/c_app.o" -o "$build/c_app" $flags)
    run_app "$build/c_app"
    ;;

  interface)
    prefix="$(prefix_of shared)"
    libdir="$(libdir_of "$prefix")"
    inc="$prefix/include/weightmap"
    # Headers: the public ones and the generated version.hpp, nothing else.
    want="$( (cd "$src/include/weightmap" && ls ./*.hpp ./*.h 2>/dev/null; echo ./version.hpp) | sort)"
    have="$( (cd "$inc" && ls) | sed 's|^|./|' | sort)"
    [ "$want" = "$have" ] || die "installed headers differ from include/weightmap: $(diff <(echo "$want") <(echo "$have") || true)"
    # Standard headers and weightmap/ only; each compiles alone as C++17.
    "$cmake" -DWM_PUBLIC_HEADERS_DIR="$inc" -P "$src/cmake/CheckLayers.cmake"
    for h in "$inc"/*; do
      echo "#include <weightmap/$(basename "$h")>" |
        "$cxx" -std=c++17 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -x c++ -I"$prefix/include" - ||
        die "$(basename "$h") does not compile alone as C++17"
    done
    echo "#include <weightmap/weightmap.h>" |
      "$cc" -std=c99 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -x c -I"$prefix/include" - ||
      die "weightmap.h does not compile alone as C99"
    echo "headers: $(find "$inc" -type f | wc -l), standard and weightmap/ includes only, each compiles alone (C++17; weightmap.h as C99 too)"
    # The shared library: soname, and only namespace wm exported.
    so="$(readlink -f "$libdir/libweightmap.so")"
    soname="$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')"
    [ "$soname" = libweightmap.so.0.2 ] || die "soname $soname, expected libweightmap.so.0.2"
    symbols="$(nm -D --defined-only -C "$so" | sed -E 's/^[0-9a-f]+ [A-Za-z] //')"
    bad="$(grep -vE '^((typeinfo name for |typeinfo for |vtable for )?wm::|wm_)' <<<"$symbols" || true)"
    [ -z "$bad" ] || die "exported symbols outside namespace wm:"$'\n'"$bad"
    # ... and every one names something the installed headers declare (no internal class).
    internal=""
    while read -r name; do
      grep -qw -- "$name" "$inc"/* || internal+="$name "
    done < <(sed -E 's/^(typeinfo name for |typeinfo for |vtable for )?(wm::)?([A-Za-z0-9_]+).*/\3/' <<<"$symbols" | sort -u)
    [ -z "$internal" ] || die "exported names the public headers do not declare: $internal"
    count="$(wc -l <<<"$symbols")"
    stripped="$work/libweightmap.stripped.so"
    strip --strip-unneeded -o "$stripped" "$so"
    echo "exported symbols: $count (namespace wm and the C API's wm_* only)"
    echo "$(basename "$so"): $(stat -c %s "$so") bytes, $(stat -c %s "$stripped") stripped"
    echo "NEEDED: $(readelf -d "$so" | sed -n 's/.*Shared library: \[\(.*\)\].*/\1/p' | tr '\n' ' ')"
    # Package files; a shared library's CMake package asks for none of its private dependencies.
    for f in "$libdir/cmake/weightmap/weightmapConfig.cmake" "$libdir/cmake/weightmap/weightmapConfigVersion.cmake" \
             "$libdir/pkgconfig/weightmap.pc" "$prefix/share/doc/weightmap/LICENSE"; do
      [ -f "$f" ] || die "missing $f"
    done
    ! grep -E 'INTERFACE_LINK_LIBRARIES' "$libdir"/cmake/weightmap/weightmapTargets*.cmake ||
      die "the shared package's target carries link dependencies"
    static_prefix="$work/prefix-static"
    if [ -f "$static_prefix/.installed" ]; then
      a="$(find "$static_prefix" -name libweightmap.a | head -1)"
      echo "$(basename "$a"): $(stat -c %s "$a") bytes"
    fi
    ;;

  vendored)
    # Two configures of the engine. The first, with the build type left to
    # the engine (RelWithDebInfo), is what every check below reads: the
    # engine's type kept, only the library's targets, each side's flags on
    # its own targets (compile_commands.json). The second, the same engine
    # in Release with warnings as errors when this tree's build has them,
    # builds and runs engine_app: its weightmap objects have the parent
    # build's exact flags, so with ccache they are not compiled again (a
    # RelWithDebInfo build of the library took 1.5x a Release one, cold).
    build="$work/vendored"
    release="$work/vendored-release"
    rm -rf "$build"
    rm -f "$release/CMakeCache.txt"  # its objects are kept between runs, as the install builds' are
    # CLI11 and GoogleTest made unfindable: weightmap as a subproject must not ask for them.
    "$cmake" -S "$here/vendored" -B "$build" -G "$gen" -DCMAKE_CXX_COMPILER="$cxx" -DWEIGHTMAP_SOURCE_DIR="$src" \
      -DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON
    cache="$build/CMakeCache.txt"
    grep -qx 'CMAKE_BUILD_TYPE:STRING=RelWithDebInfo' "$cache" ||
      die "CMAKE_BUILD_TYPE is not the engine's: $(grep '^CMAKE_BUILD_TYPE' "$cache")"
    for opt in WM_TESTS WM_TOOLS WM_BENCH WM_INSTALL; do
      grep -qx "$opt:BOOL=OFF" "$cache" || die "$opt is not OFF in a subproject"
    done
    ! grep -E '^(CLI11|GTest|GTEST)_' "$cache" || die "CLI11 or GoogleTest was looked for"
    targets="$("$cmake" --build "$build" --target help)"
    grep -qw engine_app <<<"$targets" || die "no engine_app target"
    extra="$(grep -oE 'weightmap_cli|load_example|engine_example|[a-z_]+_test|wm_test_support|wm_test_pch|gtest[a-z_]*|make_bench_model|compute_bench|lora_bench|[a-z_]+_fuzz' <<<"$targets" | sort -u || true)"
    [ -z "$extra" ] || die "weightmap as a subproject defines targets of its own tools: $extra"
    # Flags: the engine's target has its own, none of weightmap's.
    app_cmd="$(grep '"command".*engine_app.dir' "$build/compile_commands.json")"
    echo "engine_app: $app_cmd"
    for flag in -std=c++17 -O2 -g; do
      grep -q -- " $flag " <<<"$app_cmd" || die "engine_app is not compiled with $flag"
    done
    for flag in -Wpedantic -Wshadow -fvisibility=hidden -std=c++20 -fsanitize; do
      ! grep -q -- "$flag" <<<"$app_cmd" || die "weightmap's $flag reached the engine's target"
    done
    grep -q -- "-I$build/weightmap/include\|-I$src/include" <<<"$app_cmd" || die "engine_app lacks weightmap's include folder"
    ! grep -q -- "-I$src/src\b" <<<"$app_cmd" || die "weightmap's src/ reached the engine's include path"
    lib_cmds="$(grep '"command".*wm_[a-z]*\.dir' "$build/compile_commands.json")"
    [ -n "$lib_cmds" ] || die "no weightmap objects in $build/compile_commands.json"
    ! grep -v -- ' -O2 -g ' <<<"$lib_cmds" || die "weightmap's objects above are not built in the engine's build type"
    echo "engine build type RelWithDebInfo kept ($(wc -l <<<"$lib_cmds") weightmap objects with its -O2 -g);" \
      "targets: engine_app + weightmap's library only; no CLI11/GTest"

    "$cmake" -S "$here/vendored" -B "$release" -G "$gen" -DCMAKE_CXX_COMPILER="$cxx" -DWEIGHTMAP_SOURCE_DIR="$src" \
      -DCMAKE_BUILD_TYPE=Release -DWM_WERROR="${WM_WERROR:-OFF}" \
      -DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON "${launcher[@]}"
    "$cmake" --build "$release" -j2 --target engine_app
    run_app "$release/engine_app"
    ;;

  *)
    die "unknown step $step"
    ;;
esac
echo "== consumer $step $kind: $((SECONDS - start)) s"
