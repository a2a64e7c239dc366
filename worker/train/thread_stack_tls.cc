// gradpool-train's threads get the stack their creators ask for, static TLS included.
//
// glibc carves a thread's static TLS out of the stack size given to pthread_attr_setstacksize and
// refuses (EINVAL) a stack smaller than that TLS (glibc bug 11787). LibTorch's dependencies bring
// about 120 KiB of static TLS (OpenBLAS alone 60 KiB), and civetweb — the web server under
// prometheus-cpp's Exposer, which serves --metrics-listen — starts its threads with 100 KiB
// stacks, so it could not start at all. gradpool-train therefore interposes
// pthread_attr_setstacksize (the executable's definition wins over libc's for every library) and
// adds the static TLS to every explicit request. Threads created with default attributes are not
// affected: glibc sizes those itself.
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>

#include <cstddef>

namespace {

// The TLS segments of the objects loaded now (the executable and its libraries: the static TLS,
// with their alignment as padding; a library loaded later only makes this an overestimate).
size_t static_tls_bytes() {
  size_t total = 0;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* sum) {
        for (int i = 0; i < info->dlpi_phnum; ++i)
          if (info->dlpi_phdr[i].p_type == PT_TLS)
            *static_cast<size_t*>(sum) += info->dlpi_phdr[i].p_memsz + info->dlpi_phdr[i].p_align;
        return 0;
      },
      &total);
  return total;
}

}  // namespace

extern "C" int pthread_attr_setstacksize(pthread_attr_t* attr, size_t size) noexcept {
  using SetStackSize = int (*)(pthread_attr_t*, size_t);
  static const auto libc_set_stack_size =
      reinterpret_cast<SetStackSize>(dlsym(RTLD_NEXT, "pthread_attr_setstacksize"));
  static const size_t tls = static_tls_bytes();
  return libc_set_stack_size(attr, size + tls);
}
