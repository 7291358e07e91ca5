// A library opened at run time with dlopen, so the addon loads on machines without it, and
// its entry points resolved by name (cuda/cublas_api.cpp, cuda/cufft_api.cpp, cpu/fftw_api.cpp).
#pragma once
#include <dlfcn.h>

#include <initializer_list>
#include <string>

namespace s4 {

struct DlLibrary {
  void* lib = nullptr;
  std::string error;  // why the library is unusable
  const char* what = "";  // the library's name in messages

  // Opens the first of `names` that loads. When none does: false, and error names the
  // library, the names tried and the loader's messages, followed by `hint`.
  bool open(const char* library, std::initializer_list<const char*> names, const char* hint = "") {
    what = library;
    std::string list, tried;
    for (const char* name : names) {
      lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (lib) return true;
      const char* why = dlerror();
      list += std::string(list.empty() ? "" : ", ") + name;
      tried += std::string(tried.empty() ? "" : "; ") + (why ? why : name);
    }
    error = std::string(what) + " could not be loaded (tried " + list + ": " + tried + ")" + hint;
    return false;
  }

  // slot = the entry point `name`. When it is missing: false, error set and the library
  // closed (an incomplete library is not used at all).
  template <typename T>
  bool resolve(T& slot, const char* name) {
    if (!lib) return false;
    slot = reinterpret_cast<T>(dlsym(lib, name));
    if (slot) return true;
    error = std::string(what) + " was found but lacks the entry point " + name;
    dlclose(lib);
    lib = nullptr;
    return false;
  }
};

}  // namespace s4
