/*
 * The libtorch shim (see shim.h): extern "C" functions over libtorch 1.13,
 * built as the plugin libbarlow-torch.so that libbarlow dlopens on first
 * use. The only C++ file of libbarlow and the only one including libtorch
 * headers. It does not call into libbarlow: messages go to the host's
 * set_error callback, and barlow_torch_plugin_v1 (the one exported symbol)
 * hands libbarlow the table of the functions below.
 *
 * Rule: every exported function that returns a barlow_status runs its body
 * through bw_torch_guard(), the one place that catches C++ exceptions
 * (bw_fail raised here, c10::Error, std::bad_alloc, std::exception and
 * anything else) and turns them into a status and a message. A test
 * (tests/python/test_extract.py, test_shim_guard) greps this file to keep
 * it so, and checks that the table holds exactly these functions.
 */
#include <ATen/Parallel.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/passes/frozen_graph_optimizations.h>
#include <torch/csrc/jit/runtime/interpreter.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <torch/version.h>

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include "shim.h"

namespace {

/* libbarlow's callbacks, stored by barlow_torch_plugin_v1 before any other
 * function of the plugin can be reached. */
const bw_torch_host *host_table = nullptr;

/* Formats a message (truncated to libbarlow's message size) and hands it to
 * the host, on the calling thread. Never throws. */
barlow_status report(barlow_status st, const char *fmt, ...) noexcept
    __attribute__((format(printf, 2, 3)));
barlow_status report(barlow_status st, const char *fmt, ...) noexcept
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return host_table ? host_table->set_error(st, buf) : st;
}

/* A failure with a status of our own choosing, raised inside a guarded body. */
struct bw_fail {
    barlow_status status;
    std::string msg;
};

[[noreturn]] void fail(barlow_status st, const std::string &msg) { throw bw_fail{st, msg}; }

/* libtorch messages can span many lines (TorchScript tracebacks): keep the
 * first line and, when different, the last non-empty one (where a model's
 * own exception text ends up), within the error buffer's size. */
std::string condense(const char *what)
{
    std::string s(what ? what : "");
    std::vector<std::string> lines;
    std::istringstream in(s);
    std::string line;
    while (std::getline(in, line)) {
        size_t a = line.find_first_not_of(" \t\r");
        if (a == std::string::npos) continue;
        size_t b = line.find_last_not_of(" \t\r");
        lines.push_back(line.substr(a, b - a + 1));
    }
    if (lines.empty()) return "(no message)";
    std::string out = lines.front();
    if (lines.size() > 1 && lines.back() != lines.front()) out += " ... " + lines.back();
    if (out.size() > 700) out = out.substr(0, 340) + " ... " + out.substr(out.size() - 340);
    return out;
}

/* BACKEND, or NOMEM for libtorch's allocation failures, which reach us as
 * errors with a message rather than as std::bad_alloc (the CPU allocator's
 * "can't allocate memory", CUDA's "out of memory"). */
static barlow_status error_status(const char *what)
{
    return strstr(what, "can't allocate memory") || strstr(what, "Cannot allocate memory") ||
                   strstr(what, "out of memory")
               ? BARLOW_E_NOMEM
               : BARLOW_E_BACKEND;
}

/* The one exception boundary of the shim. */
template <class F>
barlow_status bw_torch_guard(const char *who, F &&body) noexcept
{
    try {
        return body();
    } catch (const bw_fail &f) {
        return report(f.status, "%s: %s", who, f.msg.c_str());
    } catch (const c10::Error &e) {
        return report(error_status(e.what()), "%s: libtorch error: %s", who,
                        condense(e.what_without_backtrace()).c_str());
    } catch (const std::bad_alloc &) {
        return report(BARLOW_E_NOMEM, "%s: out of memory in libtorch", who);
    } catch (const std::exception &e) {
        return report(error_status(e.what()), "%s: libtorch exception: %s", who,
                        condense(e.what()).c_str());
    } catch (...) {
        return report(BARLOW_E_BACKEND, "%s: unknown C++ exception in libtorch", who);
    }
}

/* A read-only, seekable stream over caller memory (no copy). */
struct mem_streambuf : std::streambuf {
    mem_streambuf(const void *data, size_t size)
    {
        char *p = const_cast<char *>(static_cast<const char *>(data));
        setg(p, p, p + size);
    }
    pos_type seekoff(off_type off, std::ios_base::seekdir dir,
                     std::ios_base::openmode) override
    {
        char *target = dir == std::ios_base::beg   ? eback() + off
                       : dir == std::ios_base::cur ? gptr() + off
                                                   : egptr() + off;
        if (target < eback() || target > egptr()) return pos_type(off_type(-1));
        setg(eback(), target, egptr());
        return pos_type(target - eback());
    }
    pos_type seekpos(pos_type pos, std::ios_base::openmode mode) override
    {
        return seekoff(off_type(pos), std::ios_base::beg, mode);
    }
};

/* What bytes that torch::jit::load refused are, for the message. */
enum class archive_kind { not_zip, legacy_checkpoint, bad_zip, not_torch_zip, checkpoint, other };

/* The offset of a zip's end-of-central-directory record (22 bytes and a
 * comment of at most 65535 at the end); false without one (cut short). */
bool zip_end(const unsigned char *p, size_t size, size_t *end) noexcept
{
    if (size < 22) return false;
    for (size_t i = size - 22; i + 65557 >= size; i--) {
        if (std::memcmp(p + i, "PK\x05\x06", 4) == 0) {
            *end = i;
            return true;
        }
        if (i == 0) break;
    }
    return false;
}

uint32_t le16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
uint32_t le32(const unsigned char *p) { return le16(p) | le16(p + 2) << 16; }

/* Why a zip archive (its end-of-central-directory record at p + end) cannot
 * be one that PyTorch writes, from its central directory, or "" when it may
 * be one (or the directory is not plain: zip64, out of bounds — libtorch
 * judges those). PyTorchStreamReader wants every entry in one folder (the
 * first entry's) and a <folder>/version or <folder>/.data/version record;
 * refusing the others here keeps them from libtorch, whose reader leaks its
 * state (152 bytes) when its constructor throws on them. */
std::string zip_not_torch(const unsigned char *p, size_t end) noexcept
{
    try {
        uint32_t count = le16(p + end + 10), cd_size = le32(p + end + 12);
        uint32_t cd_off = le32(p + end + 16);
        if (count == 0xFFFF || cd_off == 0xFFFFFFFFu || (size_t)cd_off + cd_size > end) return "";
        if (count == 0) return "the zip archive has no entries";
        std::string folder, first;
        bool version = false;
        size_t at = cd_off;
        for (uint32_t i = 0; i < count; i++) {
            if (at + 46 > end || std::memcmp(p + at, "PK\x01\x02", 4) != 0) return "";
            size_t nlen = le16(p + at + 28), xlen = le16(p + at + 30), clen = le16(p + at + 32);
            if (at + 46 + nlen > end) return "";
            std::string name(reinterpret_cast<const char *>(p + at + 46), nlen);
            if (i == 0) {
                first = name;
                size_t slash = name.find('/');
                if (slash == std::string::npos) break;
                folder = name.substr(0, slash);
            }
            version = version || name == folder + "/version" || name == folder + "/.data/version";
            at += 46 + nlen + xlen + clen;
        }
        if (folder.empty())
            return "its first entry \"" + first.substr(0, 100) +
                   "\" is not in a folder (torch.jit.save puts every entry in one; an .npz "
                   "or another zip?)";
        if (!version)
            return "it has no " + folder.substr(0, 100) +
                   "/version record (torch.jit.save writes one; another zip?)";
        return "";
    } catch (const std::exception &) { /* std::string's bad_alloc: libtorch judges */
        return "";
    }
}

archive_kind probe_archive(const void *data, size_t size) noexcept
{
    /* torch.save's legacy format (before PyTorch 1.6, or with
     * _use_new_zipfile_serialization=False): a pickle (protocol 2) that
     * starts with the long 0x1950a86a20f9469cfc6c, torch's magic number */
    static const unsigned char legacy[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c,
                                           0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    const unsigned char *p = static_cast<const unsigned char *>(data);
    if (size >= sizeof legacy && std::memcmp(p, legacy, sizeof legacy) == 0)
        return archive_kind::legacy_checkpoint;
    if (size < 4 || std::memcmp(p, "PK\x03\x04", 4) != 0) return archive_kind::not_zip;
    /* a zip ends with its end-of-central-directory record: without one it
     * was cut short */
    size_t end = 0;
    if (!zip_end(p, size, &end)) return archive_kind::bad_zip;
    if (!zip_not_torch(p, end).empty()) return archive_kind::not_torch_zip;
    try {
        /* torch.jit.save's archive holds constants.pkl (and code/);
         * torch.save's holds data.pkl, data/ and version only */
        mem_streambuf sb(data, size);
        std::istream in(&sb);
        caffe2::serialize::PyTorchStreamReader reader(&in);
        if (reader.hasRecord("data.pkl") && !reader.hasRecord("constants.pkl"))
            return archive_kind::checkpoint;
    } catch (const std::exception &) {
        /* e.g. a newer file format version: libtorch's message says it */
    }
    return archive_kind::other;
}

/* The message for a model that torch::jit::load refused (`why`: libtorch's
 * words): a torch.save checkpoint is named as such with the converter to
 * use; a file that is no zip archive, or one cut short, is said so. */
std::string load_failure(const void *data, size_t size, const std::string &why)
{
    const std::string convert =
        ", not a TorchScript model (torch.jit.save); convert it with "
        "tools/convert_checkpoint.py (--torchvision or --robustness with --arch, or --module "
        "FILE.py:NAME --state; docs/models.md)";
    char head[32] = "";
    const unsigned char *p = static_cast<const unsigned char *>(data);
    if (data && size >= 4)
        std::snprintf(head, sizeof head, "%02x %02x %02x %02x", p[0], p[1], p[2], p[3]);
    switch (data ? probe_archive(data, size) : archive_kind::other) {
    case archive_kind::checkpoint:
        return "this is a PyTorch checkpoint/state_dict (torch.save: the archive has data.pkl "
               "but no constants.pkl)" + convert;
    case archive_kind::legacy_checkpoint:
        return "this is a PyTorch checkpoint/state_dict (torch.save, legacy pickle format)" +
               convert;
    case archive_kind::not_zip:
        return std::string("not a TorchScript model: not a zip archive (torch.jit.save writes "
                           "one; this starts with bytes ") +
               (head[0] ? head : "(fewer than 4)") + ")";
    case archive_kind::bad_zip:
        return "not a loadable TorchScript archive: the zip archive is damaged or truncated "
               "(no end-of-central-directory record in its " +
               std::to_string(size) + " bytes)";
    case archive_kind::not_torch_zip: {
        size_t end = 0;
        zip_end(p, size, &end);
        return "not a TorchScript archive (torch.jit.save): " + zip_not_torch(p, end);
    }
    default:
        return "not a loadable TorchScript archive (torch.jit.save): " + why;
    }
}

std::string shape_str(const at::Tensor &t)
{
    std::string s = "[";
    for (int64_t i = 0; i < t.dim(); i++) {
        if (i) s += ", ";
        s += std::to_string(t.size(i));
    }
    return s + "]";
}

/* at::set_num_threads also resizes libtorch's pthreadpool by destroying
 * and re-creating it, so it is called only when the count differs (the
 * OpenMP count it reads back is the calling thread's own). */
void use_threads(size_t threads)
{
    if (at::get_num_threads() != (int)threads) at::set_num_threads((int)threads);
}

const char *const resnet_children[] = {"conv1",  "bn1",    "relu",   "maxpool",
                                       "layer1", "layer2", "layer3", "layer4"};

} // namespace

struct bw_torch_model {
    torch::jit::Module module; /* eval mode, as loaded (+ forward_features) */
    torch::jit::Module fast;   /* frozen + optimised copy, or == module */
    c10::Device device{c10::kCPU};
    size_t channels = 3, height = 0, width = 0, threads = 1;
    bool normalize = false;
    at::Tensor mean, std; /* 1×C×1×1 on device, when normalize */
    bw_torch_info info{};
    bool optimize = false; /* the optimize option */
    /* Gradients run through `grad_module`: with the optimize option, a
     * frozen copy of `module` (weights as constants, conv+bn folded; not
     * the oneDNN-layout inference copy, which has no derivatives), in
     * channels-last layout for inputs of 128x128 and more on the CPU
     * (grad_cl), its forward_features run by the interpreter (grad_code);
     * made by the first feature_grad call and kept when its values and
     * gradient agree with the module as loaded (grad_state 1). Otherwise
     * `module` itself (grad_state -1). 0: not decided yet. */
    torch::jit::Module grad_module;
    std::shared_ptr<torch::jit::Code> grad_code; /* its forward_features */
    int grad_state = 0;
    bool grad_cl = false;
};

namespace {

at::Tensor input_tensor(bw_torch_model *m, const float *x, size_t n, bool grad,
                        at::MemoryFormat fmt = at::MemoryFormat::Contiguous)
{
    at::Tensor t = torch::from_blob(const_cast<float *>(x),
                                    {(int64_t)n, (int64_t)m->channels, (int64_t)m->height,
                                     (int64_t)m->width},
                                    torch::kFloat32);
    /* A copy, so that a model writing into its input never touches the
     * caller's const buffer. */
    t = m->device.is_cpu() ? t.clone(fmt) : t.to(m->device).contiguous(fmt);
    if (grad) t.set_requires_grad(true);
    return t;
}

at::Tensor normalized(bw_torch_model *m, const at::Tensor &t)
{
    return m->normalize ? (t - m->mean) / m->std : t;
}

/* The last feature map; checks it against the contract. `expect` = the dry
 * run's info to compare with (NULL during the dry run itself). With `code`
 * (forward_features' graph of mod, compiled) the TorchScript interpreter
 * runs it directly instead of mod's graph executor. */
at::Tensor feature_map(bw_torch_model *m, torch::jit::Module &mod, const at::Tensor &x,
                       const bw_torch_info *expect, const torch::jit::Code *code = nullptr)
{
    c10::IValue out;
    if (code) {
        torch::jit::Stack stack{mod._ivalue(), x};
        torch::jit::InterpreterState(*code).run(stack);
        out = stack.at(0);
    } else {
        out = mod.get_method("forward_features")({x});
    }
    if (!out.isTensor())
        fail(BARLOW_E_FORMAT, std::string("forward_features returned a ") +
                                  out.tagKind() +
                                  ", not a tensor (the contract wants the last feature "
                                  "map N×D×h×w)");
    at::Tensor f = out.toTensor();
    if (f.dim() != 4)
        fail(BARLOW_E_FORMAT, "forward_features returned a tensor of shape " + shape_str(f) +
                                  " (" + std::to_string(f.dim()) +
                                  " dimensions); the contract wants the last feature "
                                  "map N×D×h×w (4 dimensions)");
    if (f.size(0) != x.size(0))
        fail(BARLOW_E_FORMAT, "forward_features returned " + std::to_string(f.size(0)) +
                                  " maps for " + std::to_string(x.size(0)) +
                                  " images (shape " + shape_str(f) + ")");
    if (!at::isFloatingType(f.scalar_type()))
        fail(BARLOW_E_FORMAT, std::string("forward_features returned a tensor of type ") +
                                  c10::toString(f.scalar_type()) +
                                  "; the contract wants floating point");
    if (f.size(1) < 1 || f.size(2) < 1 || f.size(3) < 1)
        fail(BARLOW_E_FORMAT, "forward_features returned an empty feature map of shape " +
                                  shape_str(f));
    if (expect && (size_t)f.size(1) != expect->feature_dim)
        fail(BARLOW_E_FORMAT, "forward_features returned " + std::to_string(f.size(1)) +
                                  " channels, but the dry run at load gave " +
                                  std::to_string(expect->feature_dim));
    (void)m;
    return f.to(torch::kFloat32);
}

at::Tensor logits_of(torch::jit::Module &mod, const at::Tensor &x, const bw_torch_info *expect)
{
    c10::IValue out = mod.forward({x});
    if (!out.isTensor())
        fail(BARLOW_E_FORMAT, std::string("forward returned a ") + out.tagKind() +
                                  ", not a tensor (the contract wants logits N×K)");
    at::Tensor l = out.toTensor();
    if (l.dim() != 2 || l.size(0) != x.size(0) || l.size(1) < 1)
        fail(BARLOW_E_FORMAT, "forward returned a tensor of shape " + shape_str(l) +
                                  " for " + std::to_string(x.size(0)) +
                                  " images; the contract wants logits N×K");
    if (!at::isFloatingType(l.scalar_type()))
        fail(BARLOW_E_FORMAT, std::string("forward returned a tensor of type ") +
                                  c10::toString(l.scalar_type()) +
                                  "; the contract wants floating point logits");
    if (expect && (size_t)l.size(1) != expect->num_classes)
        fail(BARLOW_E_FORMAT, "forward returned " + std::to_string(l.size(1)) +
                                  " logits, but the dry run at load gave " +
                                  std::to_string(expect->num_classes));
    return l.to(torch::kFloat32);
}

/* An output as a contiguous float32 CPU tensor: everything that can throw
 * (the device copy, the conversion) happens here, so that a call prepares
 * all its outputs first and then writes them with copy_out, which cannot
 * fail: the caller's buffers are written only when the whole call
 * succeeds. */
at::Tensor host_out(const at::Tensor &t)
{
    return t.detach().to(torch::kCPU).to(torch::kFloat32).contiguous();
}

void copy_out(const at::Tensor &host, float *dst)
{
    std::memcpy(dst, host.data_ptr<float>(), (size_t)host.numel() * sizeof(float));
}

c10::Device parse_device(const char *text)
{
    std::string s(text ? text : "cpu");
    c10::optional<c10::Device> dev;
    try {
        dev = c10::Device(s);
    } catch (const c10::Error &) {
        fail(BARLOW_E_INVALID_ARG,
             "device '" + s + "' is not a device name (use cpu, cuda or cuda:N)");
    }
    if (dev->is_cpu()) {
        if (dev->has_index() && dev->index() != 0)
            fail(BARLOW_E_INVALID_ARG, "device '" + s + "': the CPU device has no index " +
                                           std::to_string(dev->index()) + " (use cpu)");
        return c10::Device(c10::kCPU);
    }
    if (!dev->is_cuda())
        fail(BARLOW_E_UNSUPPORTED,
             "device '" + s + "' is not supported (use cpu, cuda or cuda:N)");
    if (!torch::cuda::is_available())
        fail(BARLOW_E_UNSUPPORTED,
             "device '" + s +
                 "' is not available: this libtorch was built without CUDA or no CUDA "
                 "device is visible (use cpu, or build with -Dtorch_prefix=<a CUDA libtorch>)");
    size_t count = torch::cuda::device_count();
    if (dev->has_index() && (size_t)dev->index() >= count)
        fail(BARLOW_E_UNSUPPORTED, "device '" + s + "' is not available: there are " +
                                       std::to_string(count) + " CUDA device(s)");
    return *dev;
}

std::string dry_run_what(const bw_torch_config *cfg)
{
    return "the dry run on a 2×" + std::to_string(cfg->channels) + "×" +
           std::to_string(cfg->height) + "×" + std::to_string(cfg->width) +
           " input (the channels and input_size options) failed: ";
}

/* Gives a module without forward_features one that runs the ResNet-style
 * children in order; explains what is missing otherwise. */
void resolve_contract(torch::jit::Module &mod, bw_torch_info *info)
{
    if (mod.find_method("forward_features")) {
        info->native_forward_features = 1;
        return;
    }
    std::vector<std::string> have;
    for (const auto &c : mod.named_children()) have.push_back(c.name);
    std::string missing;
    for (const char *name : resnet_children) {
        bool found = false;
        for (const auto &h : have) found = found || h == name;
        if (!found) missing += std::string(missing.empty() ? "" : ", ") + "'" + name + "'";
    }
    if (!missing.empty())
        fail(BARLOW_E_FORMAT,
             "the model has no forward_features method and is not ResNet-style: it lacks "
             "the child module(s) " +
                 missing +
                 " (the contract wants forward_features(x) returning the last feature map "
                 "N×D×h×w, or children conv1, bn1, relu, maxpool, layer1..layer4; "
                 "tools/convert_checkpoint.py makes such a module)");
    std::string src = "def forward_features(self, x):\n";
    for (const char *name : resnet_children) src += std::string("    x = self.") + name + ".forward(x)\n";
    src += "    return x\n";
    mod.define(src);
    info->native_forward_features = 0;
}

/* d feature / d x for n images x through `mod` (and the normalisation;
 * `code`: see feature_map), the input leaf in layout fmt; *v = the
 * feature values. */
at::Tensor feature_grad_of(bw_torch_model *m, torch::jit::Module &mod, const float *x, size_t n,
                           int64_t feature, at::MemoryFormat fmt, at::Tensor *v,
                           const torch::jit::Code *code = nullptr)
{
    at::Tensor t = input_tensor(m, x, n, true, fmt);
    at::Tensor f = feature_map(m, mod, normalized(m, t), &m->info, code);
    at::Tensor fv = f.mean({2, 3}).select(1, feature);
    std::vector<at::Tensor> g = torch::autograd::grad({fv.sum()}, {t});
    *v = fv.detach();
    return g.at(0);
}

/* A frozen copy of the module for gradients: weights as constants and
 * conv+bn folded (torch::jit::freeze optimises only `forward`, so
 * forward_features' graph is optimised here), its 4-D weights in
 * channels-last layout when cl. *code = forward_features' graph compiled
 * for the interpreter: run without a graph executor, autograd records each
 * op with its own derivative (the profiling executor would group them into
 * differentiable subgraphs whose symbolic derivatives are slower, e.g.
 * relu's as gt, type_as and mul instead of threshold_backward). */
torch::jit::Module frozen_for_grad(bw_torch_model *m, bool cl,
                                   std::shared_ptr<torch::jit::Code> *code)
{
    torch::jit::Module base = m->module;
    if (cl) {
        base = m->module.deepcopy();
        for (at::Tensor p : base.parameters())
            if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
    }
    torch::jit::Module frozen =
        torch::jit::freeze(base, std::vector<std::string>{"forward_features"});
    std::shared_ptr<torch::jit::Graph> graph = frozen.get_method("forward_features").graph();
    torch::jit::OptimizeFrozenGraph(graph, true);
    *code = std::make_shared<torch::jit::Code>(graph->copy(), "forward_features");
    return frozen;
}

/* The first gradient call picks the module for gradients (see
 * bw_torch_model): the module as loaded, then with the optimize option a
 * frozen copy — channels-last first for inputs of 128x128 and more on the
 * CPU (oneDNN's convolutions skip their layout conversions: ~1.1-1.3x on a
 * ResNet-50 at 224, slower at 64 and below), then in the default layout —
 * is kept when, on these inputs, its feature values agree with the module
 * as loaded as closely as the inference copy must at load (rtol 1e-3,
 * atol 1e-4) and its gradient within 2% (relative L2; float32 rounding
 * alone moves a random ResNet-50's input gradient ~0.3% from float64's,
 * a wrong derivative moves it by O(1)). A copy that fails to build or run
 * is skipped. A zero or non-finite gradient of the module as loaded
 * leaves the choice to a later call. *v, *g: the chosen module's results. */
void choose_grad_module(bw_torch_model *m, const float *x, size_t n, int64_t feature,
                        at::Tensor *v, at::Tensor *g)
{
    *g = feature_grad_of(m, m->module, x, n, feature, at::MemoryFormat::Contiguous, v);
    if (!m->optimize) {
        m->grad_state = -1;
        return;
    }
    /* a zero or non-finite gradient cannot tell: decide on a later call */
    double gn = g->norm().item<double>();
    if (!(gn > 0.0) || !std::isfinite(gn)) return;
    m->grad_state = -1;
    bool big = m->device.is_cpu() && m->height * m->width >= 128 * 128;
    for (int cl = big ? 1 : 0; cl >= 0; cl--) {
        try {
            at::MemoryFormat fmt =
                cl ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
            std::shared_ptr<torch::jit::Code> code;
            torch::jit::Module frozen = frozen_for_grad(m, cl != 0, &code);
            at::Tensor v2, g2 = feature_grad_of(m, frozen, x, n, feature, fmt, &v2, code.get());
            double dn = (g2 - *g).norm().item<double>();
            if (v2.sizes() == v->sizes() && g2.sizes() == g->sizes() &&
                at::allclose(v2, *v, 1e-3, 1e-4) && std::isfinite(dn) && dn <= 0.02 * gn) {
                m->grad_module = frozen;
                m->grad_code = code;
                m->grad_state = 1;
                m->grad_cl = cl != 0;
                *v = v2;
                *g = g2;
                return;
            }
        } catch (const bw_fail &) {
        } catch (const c10::Error &) {
        } catch (const std::bad_alloc &) {
            throw;
        } catch (const std::exception &) {
        }
    }
}

} // namespace

extern "C" {

barlow_status bw_torch_load(const char *who, const char *path, const void *data,
                            size_t size, const bw_torch_config *cfg,
                            bw_torch_model **out, bw_torch_info *info)
{
    return bw_torch_guard(who, [&]() -> barlow_status {
        c10::Device dev = parse_device(cfg->device);
        use_threads(cfg->threads);
        std::unique_ptr<bw_torch_model> m(new bw_torch_model());
        m->device = dev;
        m->channels = cfg->channels;
        m->height = cfg->height;
        m->width = cfg->width;
        m->threads = cfg->threads;
        m->optimize = cfg->optimize != 0;
        /* Bytes that cannot be a TorchScript archive (no zip, a zip cut
         * short, a zip PyTorch did not write, torch.save's legacy pickle)
         * are refused before libtorch reads them, with the message they
         * would get after: libtorch 1.13 leaks its zip reader's state (152
         * bytes) whenever PyTorchStreamReader's constructor throws
         * (scripts/sanitize --torch). */
        if (data) {
            archive_kind kind = probe_archive(data, size);
            if (kind == archive_kind::not_zip || kind == archive_kind::bad_zip ||
                kind == archive_kind::not_torch_zip || kind == archive_kind::legacy_checkpoint)
                fail(BARLOW_E_FORMAT, load_failure(data, size, ""));
        }
        try {
            if (data) {
                mem_streambuf sb(data, size);
                std::istream in(&sb);
                m->module = torch::jit::load(in, c10::Device(c10::kCPU));
            } else {
                m->module = torch::jit::load(std::string(path), c10::Device(c10::kCPU));
            }
        } catch (const c10::Error &e) {
            fail(BARLOW_E_FORMAT, load_failure(data, size, condense(e.what_without_backtrace())));
        } catch (const std::bad_alloc &) {
            throw;
        } catch (const std::exception &e) {
            fail(BARLOW_E_FORMAT, load_failure(data, size, condense(e.what())));
        }
        m->module.eval();
        m->module.to(dev);
        bw_torch_info inf{};
        resolve_contract(m->module, &inf);
        if (cfg->normalize) {
            m->normalize = true;
            m->mean = torch::from_blob(const_cast<float *>(cfg->mean),
                                       {1, (int64_t)cfg->channels, 1, 1}, torch::kFloat32)
                          .clone()
                          .to(dev);
            m->std = torch::from_blob(const_cast<float *>(cfg->std),
                                      {1, (int64_t)cfg->channels, 1, 1}, torch::kFloat32)
                         .clone()
                         .to(dev);
        }

        /* The dry run: two images of mid-grey. */
        torch::NoGradGuard no_grad;
        std::vector<float> grey(2 * cfg->channels * cfg->height * cfg->width, 0.5f);
        at::Tensor x = normalized(m.get(), input_tensor(m.get(), grey.data(), 2, false));
        at::Tensor fmap, logits;
        try {
            fmap = feature_map(m.get(), m->module, x, nullptr);
            if (cfg->want_logits) logits = logits_of(m->module, x, nullptr);
        } catch (const c10::Error &e) {
            fail(BARLOW_E_BACKEND, dry_run_what(cfg) + condense(e.what_without_backtrace()));
        } catch (const std::bad_alloc &) {
            throw;
        } catch (const std::exception &e) {
            /* TorchScript's own exceptions (a model's `raise`, shape errors
             * in the interpreter) are torch::jit::JITException. */
            fail(BARLOW_E_BACKEND, dry_run_what(cfg) + condense(e.what()));
        }
        inf.feature_dim = (size_t)fmap.size(1);
        inf.fmap_height = (size_t)fmap.size(2);
        inf.fmap_width = (size_t)fmap.size(3);
        inf.num_classes = cfg->want_logits ? (size_t)logits.size(1) : 0;

        m->fast = m->module;
        if (cfg->optimize) {
            /* Freeze (weights become constants, submodules are inlined) and
             * let libtorch fuse conv+bn and pick oneDNN kernels. A model
             * that does not survive this runs as loaded. */
            try {
                torch::jit::Module frozen =
                    torch::jit::freeze(m->module, std::vector<std::string>{"forward_features"});
                frozen = torch::jit::optimize_for_inference(frozen, {"forward_features"});
                at::Tensor f2 = feature_map(m.get(), frozen, x, &inf);
                bool ok = f2.sizes() == fmap.sizes() &&
                          at::allclose(f2, fmap.to(torch::kFloat32), 1e-3, 1e-4);
                if (ok && cfg->want_logits) {
                    at::Tensor l2 = logits_of(frozen, x, &inf);
                    ok = at::allclose(l2, logits, 1e-3, 1e-4);
                }
                if (ok) {
                    m->fast = frozen;
                    inf.optimized = 1;
                }
            } catch (const bw_fail &) {
            } catch (const c10::Error &) {
            } catch (const std::bad_alloc &) {
                throw;
            } catch (const std::exception &) {
            }
        }
        m->info = inf;
        *info = inf;
        *out = m.release();
        return BARLOW_OK;
    });
}

void bw_torch_free(bw_torch_model *m)
{
    try {
        delete m;
    } catch (...) {
    }
}

barlow_status bw_torch_run(const char *who, bw_torch_model *m, const float *x, size_t n,
                           float *features, float *logits)
{
    return bw_torch_guard(who, [&]() -> barlow_status {
        use_threads(m->threads);
        /* inference mode: no autograd bookkeeping at all (no version
         * counters, no views tracked), lighter than NoGradGuard */
        c10::InferenceMode inference;
        at::Tensor t = normalized(m, input_tensor(m, x, n, false));
        at::Tensor f, l;
        if (features) f = host_out(feature_map(m, m->fast, t, &m->info).mean({2, 3}));
        if (logits) l = host_out(logits_of(m->fast, t, &m->info));
        /* nothing is written unless both were computed */
        if (features) copy_out(f, features);
        if (logits) copy_out(l, logits);
        return BARLOW_OK;
    });
}

barlow_status bw_torch_feature_map(const char *who, bw_torch_model *m, const float *x,
                                   size_t n, size_t channel, float *out)
{
    return bw_torch_guard(who, [&]() -> barlow_status {
        use_threads(m->threads);
        torch::NoGradGuard no_grad;
        at::Tensor t = normalized(m, input_tensor(m, x, n, false));
        at::Tensor f = feature_map(m, m->fast, t, &m->info);
        if ((size_t)f.size(2) != m->info.fmap_height || (size_t)f.size(3) != m->info.fmap_width)
            fail(BARLOW_E_FORMAT, "the feature map is " + shape_str(f) +
                                      " but the dry run at load gave h×w = " +
                                      std::to_string(m->info.fmap_height) + "×" +
                                      std::to_string(m->info.fmap_width));
        copy_out(host_out(f.select(1, (int64_t)channel)), out);
        return BARLOW_OK;
    });
}

barlow_status bw_torch_feature_grad(const char *who, bw_torch_model *m, const float *x,
                                    size_t n, size_t feature, float *values, float *grad)
{
    return bw_torch_guard(who, [&]() -> barlow_status {
        use_threads(m->threads);
        torch::AutoGradMode enable_grad(true);
        at::Tensor v, g;
        if (m->grad_state == 0)
            choose_grad_module(m, x, n, (int64_t)feature, &v, &g);
        else if (m->grad_state > 0)
            g = feature_grad_of(m, m->grad_module, x, n, (int64_t)feature,
                                m->grad_cl ? at::MemoryFormat::ChannelsLast
                                           : at::MemoryFormat::Contiguous,
                                &v, m->grad_code.get());
        else
            g = feature_grad_of(m, m->module, x, n, (int64_t)feature,
                                at::MemoryFormat::Contiguous, &v);
        at::Tensor hv = values ? host_out(v) : at::Tensor(), hg = host_out(g);
        if (values) copy_out(hv, values);
        copy_out(hg, grad);
        return BARLOW_OK;
    });
}

barlow_status bw_torch_set_threads(const char *who, size_t threads)
{
    return bw_torch_guard(who, [&]() -> barlow_status {
        use_threads(threads);
        return BARLOW_OK;
    });
}

const char *bw_torch_version(void) { return TORCH_VERSION; }

/* The plugin's entry point (shim.h), the only symbol plugin.map exports. */
__attribute__((visibility("default"))) uint32_t
barlow_torch_plugin_v1(uint32_t abi, const bw_torch_host *host, bw_torch_plugin *out)
{
    if (abi != BW_TORCH_PLUGIN_ABI || !host || host->abi != BW_TORCH_PLUGIN_ABI ||
        !host->set_error || !out)
        return BW_TORCH_PLUGIN_ABI;
    host_table = host;
    bw_torch_plugin t{};
    t.abi = BW_TORCH_PLUGIN_ABI;
    t.load = bw_torch_load;
    t.free = bw_torch_free;
    t.run = bw_torch_run;
    t.feature_map = bw_torch_feature_map;
    t.feature_grad = bw_torch_feature_grad;
    t.set_threads = bw_torch_set_threads;
    t.version = bw_torch_version;
    *out = t;
    return 0;
}

} /* extern "C" */
