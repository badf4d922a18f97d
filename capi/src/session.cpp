// C ABI: the whole pipeline fed batch by batch (CompareSession).
#include "capi_internal.hpp"
#include "convergent/compare.hpp"

using namespace convergent;

struct cvg_session {
    std::unique_ptr<CompareSession> session;
    bool overwrite = false;
};

namespace {

void check_handle(const cvg_session* s) { capi::require_live(s, capi::HandleKind::Session, "session"); }

}  // namespace

extern "C" {

int cvg_session_create(cvg_session** out, const char* const* net_names, int32_t n_nets, const cvg_options* opts,
                       int64_t images) {
    return capi::translate_exceptions("cvg_session_create", [&] {
        CVG_ARG(out != nullptr, "out is NULL");
        *out = nullptr;
        CVG_ARG(net_names != nullptr, "net_names is NULL");
        CVG_ARG(n_nets >= 2, "n_nets = " + std::to_string(n_nets) + ": compare needs at least two nets");
        std::vector<std::string> names;
        for (int32_t i = 0; i < n_nets; ++i) {
            CVG_ARG(net_names[i] != nullptr, "net_names[" + std::to_string(i) + "] is NULL");
            names.emplace_back(net_names[i]);
        }
        const CompareOptions& options = capi::options_or_defaults(opts).compare;
        auto s = std::make_unique<cvg_session>();
        s->session = std::make_unique<CompareSession>(names, options, images);
        s->overwrite = options.overwrite;
        *out = capi::publish(std::move(s), capi::HandleKind::Session);
    });
}

void cvg_session_destroy(cvg_session* session) {
    capi::destroy(session, capi::HandleKind::Session, "cvg_session_destroy");
}

int cvg_session_push_dlpack(cvg_session* session, int32_t net, const char* layer, DLManagedTensor* tensor) {
    auto owned = std::make_shared<capi::ManagedTensor>(tensor);
    return capi::translate_exceptions("cvg_session_push_dlpack", [&] {
        check_handle(session);
        CVG_ARG(layer != nullptr, "layer is NULL");
        CVG_ARG(tensor != nullptr, "tensor is NULL");
        const TensorView view = tensor_from_dlpack(tensor->dl_tensor, "DLPack tensor of net " + std::to_string(net) +
                                                                           ", layer '" + layer + "'");
        // The session releases the tensor (calls its deleter) once its batch
        // is merged, or on an error.
        auto release = [owned]() { owned->release(); };
        owned.reset();  // the lambda holds it now
        session->session->push_owned(net, layer, view, release);
    });
}

int cvg_session_push(cvg_session* session, int32_t net, const char* layer, const float* data, int32_t rank,
                     const int64_t* shape) {
    return capi::translate_exceptions("cvg_session_push", [&] {
        check_handle(session);
        CVG_ARG(layer != nullptr, "layer is NULL");
        CVG_ARG(data != nullptr, "data is NULL");
        CVG_ARG(rank == 2 || rank == 4, "rank = " + std::to_string(rank) + " (2 or 4)");
        CVG_ARG(shape != nullptr, "shape is NULL");
        TensorView view;
        view.data = data;
        view.dtype = NpyDtype::Float32;
        view.shape.assign(shape, shape + rank);
        session->session->push(net, layer, view);
    });
}

int cvg_session_finish(cvg_session* session, const char* out_dir) {
    return capi::translate_exceptions("cvg_session_finish", [&] {
        check_handle(session);
        CVG_ARG(out_dir != nullptr, "out_dir is NULL");
        CVG_ARG(out_dir[0] != '\0', "out_dir is empty");
        DirectorySink sink(out_dir, session->overwrite);
        session->session->finish(sink);
    });
}

}  // extern "C"
