// Gives the precompiled header target (see CMakeLists.txt) a source to build.
