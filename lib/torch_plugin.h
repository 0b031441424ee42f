/*
 * The libtorch plugin loader (lib/torch_plugin.c): libbarlow's side of
 * lib/torch/shim.h. libbarlow does not link libtorch; the first call that
 * needs it dlopens libbarlow-torch.so (RTLD_NOW | RTLD_LOCAL) and takes the
 * table of shim functions from its entry point. Where it looks, in order:
 *   1. $BARLOW_TORCH_PLUGIN when set and not empty: that file only;
 *   2. <directory of libbarlow.so>/barlow-<soversion>/libbarlow-torch.so
 *      (the installed layout; the directory comes from dladdr);
 *   3. <directory of libbarlow.so>/torch/libbarlow-torch.so (the build
 *      tree: <build>/lib/torch/);
 *   4. <prefix>/<libdir>/barlow-<soversion>/libbarlow-torch.so (the
 *      configured install directory).
 * The plugin is loaded once per process (pthread_once) and never unloaded;
 * a failure is remembered too. Only built with BARLOW_HAVE_TORCH.
 *
 * Thread safety: both functions may be called from any thread.
 */
#ifndef BARLOW_TORCH_PLUGIN_H
#define BARLOW_TORCH_PLUGIN_H

#include "torch/shim.h"

/* The plugin's table, loading the plugin on the first call. NULL when it
 * cannot be loaded: then this thread's message is set (starting with `who`,
 * listing the paths tried and dlerror()'s text, or the address-space limit
 * that kept it from being tried; bw_torch_plugin_status() says which) — when
 * `who` is NULL the message is left alone. */
const bw_torch_plugin *bw_torch_plugin_get(const char *who);

/* Why the plugin is not loaded: NOMEM when an address-space limit left no
 * room for libtorch's start-up (it was not tried), else UNSUPPORTED. */
barlow_status bw_torch_plugin_status(void);

#endif /* BARLOW_TORCH_PLUGIN_H */
