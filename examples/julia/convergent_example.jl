# Calling libconvergent's C ABI from Julia with @ccall (no wrapper package).
# The same call sequence, step by step, is tested from C in
# tests/c/test_capi_julia_sequence.c: keep the two in sync.
#
#   CONVERGENT_LIBRARY=/path/to/libconvergent.so julia convergent_example.jl
#
# Julia arrays are column-major: pass CVG_COL_MAJOR and ld = size(A, 1).
# Handles are Ptr{Cvoid}; an output handle is a Ref{Ptr{Cvoid}}.
# Indices coming back are 0-based (add 1 in Julia).
# Steps 10-11 push through DLPack (cvg_stats_push_dlpack,
# cvg_session_push_dlpack) with DLPack.jl (pkg> add DLPack); without it they
# are skipped and the rest runs as before.

const libconvergent = get(ENV, "CONVERGENT_LIBRARY", "libconvergent")
const CVG_OK = Cint(0)
const CVG_E_INVALID_ARG = Cint(-1)
const CVG_E_UNSUPPORTED = Cint(-3)
const CVG_COL_MAJOR = Int32(1)
const CVG_BACKEND_CPU = Int32(1)
const CVG_CHANNELS_FIRST = Int32(0)
const CVG_OPT_LASSO_ALPHAS = Int32(15)

lasterror() = unsafe_string(@ccall libconvergent.cvg_last_error()::Cstring)
check(rc) = rc == CVG_OK || error("convergent: ", lasterror())

# 1. version
println("convergent ", unsafe_string(@ccall libconvergent.cvg_version()::Cstring))

# 2. data: net Y repeats the units of X in the order perm, plus noise and an
#    unrelated fourth unit.
const N = 500
perm = [3, 1, 2]
X = Float32[sin(0.37 * i * u) for i in 1:N, u in 1:3]
Y = zeros(Float32, N, 4)
for i in 1:N
    for j in 1:3
        Y[i, j] = X[i, perm[j]] + Float32(0.1 * cos(1.3 * i * j))
    end
    Y[i, 4] = Float32(cos(0.71 * i))
end

# 3. accumulator for two nets
st = Ref{Ptr{Cvoid}}(C_NULL)
units = Int64[size(X, 2), size(Y, 2)]
check(@ccall libconvergent.cvg_stats_create(st::Ptr{Ptr{Cvoid}}, 2::Int32, units::Ptr{Int64},
                                            CVG_BACKEND_CPU::Int32)::Cint)

# 4. push both nets, column-major, ld = N (no copy)
check(@ccall libconvergent.cvg_stats_push(st[]::Ptr{Cvoid}, 0::Int32, X::Ptr{Float32}, N::Int64,
                                          N::Int64, CVG_COL_MAJOR::Int32)::Cint)
check(@ccall libconvergent.cvg_stats_push(st[]::Ptr{Cvoid}, 1::Int32, Y::Ptr{Float32}, N::Int64,
                                          N::Int64, CVG_COL_MAJOR::Int32)::Cint)

# 5. finalise, read the between-net correlation into a Julia matrix
check(@ccall libconvergent.cvg_stats_finalize(st[]::Ptr{Cvoid})::Cint)
C = zeros(Float64, 3, 4)
check(@ccall libconvergent.cvg_stats_correlation(st[]::Ptr{Cvoid}, 0::Int32, 1::Int32, C::Ptr{Float64},
                                                 3::Int64, CVG_COL_MAJOR::Int32)::Cint)

# 6. max-weight matching on it (with its optimality certificate)
column = zeros(Int64, 3)
value = zeros(Float64, 3)
mean, primal, dual, gap = Ref(0.0), Ref(0.0), Ref(0.0), Ref(0.0)
check(@ccall libconvergent.cvg_max_weight_matching(C::Ptr{Float64}, 3::Int64, 4::Int64, 3::Int64,
        CVG_COL_MAJOR::Int32, CVG_BACKEND_CPU::Int32, column::Ptr{Int64}, value::Ptr{Float64},
        mean::Ptr{Float64}, primal::Ptr{Float64}, dual::Ptr{Float64}, gap::Ptr{Float64})::Cint)

# 7. the planted matching: unit perm[j] of X is unit j of Y
matched = column .+ 1
@assert all(matched[perm[j]] == j for j in 1:3)
@assert abs(gap[]) < 1e-9
println("matching (1-based): ", matched, ", mean ", round(mean[]; digits=4))

# 8. sparse prediction of X from Y with two alphas, mean loss per alpha
opts = Ref{Ptr{Cvoid}}(C_NULL)
check(@ccall libconvergent.cvg_options_create(opts::Ptr{Ptr{Cvoid}})::Cint)
check(@ccall libconvergent.cvg_options_set_string(opts[]::Ptr{Cvoid}, CVG_OPT_LASSO_ALPHAS::Int32,
                                                  "0.1,0.01"::Cstring)::Cint)
sp = Ref{Ptr{Cvoid}}(C_NULL)
check(@ccall libconvergent.cvg_sparse_prediction(sp::Ptr{Ptr{Cvoid}}, st[]::Ptr{Cvoid}, 0::Int32, 1::Int32,
                                                 opts[]::Ptr{Cvoid})::Cint)
mean_loss = zeros(Float64, 2)
check(@ccall libconvergent.cvg_sparse_mean_loss(sp[]::Ptr{Cvoid}, mean_loss::Ptr{Float64})::Cint)
@assert mean_loss[2] < mean_loss[1] < 0.5
println("sparse prediction mean loss: ", mean_loss)

# 9. an error: net 5 does not exist; the message says so
out = zeros(Float64, 4)
rc = @ccall libconvergent.cvg_stats_mean(st[]::Ptr{Cvoid}, 5::Int32, out::Ptr{Float64})::Cint
@assert rc == CVG_E_INVALID_ARG && occursin("net = 5", lasterror())
println("expected error: ", lasterror())

# 10-11. DLPack: zero-copy, and the way in for any array DLPack.jl can share.
#     cvg_*_push_dlpack take a DLManagedTensor*; DLPack.share(A) makes one over
#     A's memory. It reverses the dimensions (Julia is column-major, DLPack
#     shapes are read row-major), so a (units, samples) matrix is the
#     (samples, units) tensor convergent reads, and a conv layer stored
#     (W, H, C, B), Flux's order, is the (B, C, H, W) tensor of
#     CVG_CHANNELS_FIRST. A CuArray (CUDA.jl) shares as a kDLCUDA tensor: read
#     on the GPU by a CUDA backend, CVG_E_UNSUPPORTED with any other backend
#     (never copied to the host behind your back).
#     convergent takes each tensor it is given and calls its deleter once it
#     has read it (right away on an error; for stats and sessions, when the
#     batch is complete, i.e. after the last net's push): until then the
#     array must stay alive, so dlpack_tensor keeps it in SHARED and the
#     deleter lets it go.
const SHARED = Dict{Ptr{Cvoid}, Any}()
release_shared(tensor::Ptr{Cvoid}) = (delete!(SHARED, tensor); nothing)

function dlpack_tensor(A::StridedArray)
    capsule = DLPack.share(A)  # a DLManagedTensor over A's memory, no copy
    capsule.tensor.deleter = @cfunction(release_shared, Cvoid, (Ptr{Cvoid},))
    tensor = pointer_from_objref(capsule.tensor)
    SHARED[tensor] = (capsule, A)
    return tensor
end

function dlpack_steps(X, Y, C)
    # 10a. the nets of step 4 as (units, samples) matrices: the same correlation
    Xt, Yt = permutedims(X), permutedims(Y)
    st2 = Ref{Ptr{Cvoid}}(C_NULL)
    units = Int64[size(Xt, 1), size(Yt, 1)]
    check(@ccall libconvergent.cvg_stats_create(st2::Ptr{Ptr{Cvoid}}, 2::Int32, units::Ptr{Int64},
                                                CVG_BACKEND_CPU::Int32)::Cint)
    check(@ccall libconvergent.cvg_stats_push_dlpack(st2[]::Ptr{Cvoid}, 0::Int32, dlpack_tensor(Xt)::Ptr{Cvoid},
                                                     CVG_CHANNELS_FIRST::Int32)::Cint)
    @assert length(SHARED) == 1  # held until the batch is complete
    check(@ccall libconvergent.cvg_stats_push_dlpack(st2[]::Ptr{Cvoid}, 1::Int32, dlpack_tensor(Yt)::Ptr{Cvoid},
                                                     CVG_CHANNELS_FIRST::Int32)::Cint)
    @assert isempty(SHARED)  # merged: both released
    check(@ccall libconvergent.cvg_stats_finalize(st2[]::Ptr{Cvoid})::Cint)
    C2 = zeros(Float64, 3, 4)
    check(@ccall libconvergent.cvg_stats_correlation(st2[]::Ptr{Cvoid}, 0::Int32, 1::Int32, C2::Ptr{Float64},
                                                     3::Int64, CVG_COL_MAJOR::Int32)::Cint)
    @assert maximum(abs.(C2 .- C)) < 1e-6
    println("DLPack push: the correlation of step 5")

    # 10b. a conv layer in Flux's (W, H, C, B) order; every position is a sample
    A = Float32[sin(0.3 * w * c + 0.7 * h + 0.05 * b * c) for w in 1:5, h in 1:4, c in 1:2, b in 1:N]
    B = A .+ Float32[0.1 * cos(1.1 * w + 0.5 * h * c + 0.07 * b) for w in 1:5, h in 1:4, c in 1:2, b in 1:N]
    st3 = Ref{Ptr{Cvoid}}(C_NULL)
    conv_units = Int64[2, 2]
    check(@ccall libconvergent.cvg_stats_create(st3::Ptr{Ptr{Cvoid}}, 2::Int32, conv_units::Ptr{Int64},
                                                CVG_BACKEND_CPU::Int32)::Cint)
    check(@ccall libconvergent.cvg_stats_push_dlpack(st3[]::Ptr{Cvoid}, 0::Int32, dlpack_tensor(A)::Ptr{Cvoid},
                                                     CVG_CHANNELS_FIRST::Int32)::Cint)
    check(@ccall libconvergent.cvg_stats_push_dlpack(st3[]::Ptr{Cvoid}, 1::Int32, dlpack_tensor(B)::Ptr{Cvoid},
                                                     CVG_CHANNELS_FIRST::Int32)::Cint)
    check(@ccall libconvergent.cvg_stats_finalize(st3[]::Ptr{Cvoid})::Cint)
    samples = Ref{Int64}(0)
    check(@ccall libconvergent.cvg_stats_samples(st3[]::Ptr{Cvoid}, samples::Ptr{Int64})::Cint)
    @assert samples[] == N * 4 * 5

    # 10c. an Int32 array is refused (the message names the dtype) and released right away
    rc = @ccall libconvergent.cvg_stats_push_dlpack(st3[]::Ptr{Cvoid}, 0::Int32,
                                                    dlpack_tensor(zeros(Int32, 3, N))::Ptr{Cvoid},
                                                    CVG_CHANNELS_FIRST::Int32)::Cint
    @assert rc == CVG_E_UNSUPPORTED && occursin("int", lasterror()) && isempty(SHARED)
    println("expected error: ", lasterror())

    # 11. the whole pipeline (`convergent compare` on batches pushed in
    #     process): layers "fc" (Xt, Yt) and "conv" (A, B) in two batches of
    #     views (no copies); images = N, so the Sec. 3.2 sample rows are the CLI's
    names = ["x", "y"]
    session = Ref{Ptr{Cvoid}}(C_NULL)
    GC.@preserve names begin  # the C strings live in `names` (they are copied by the call)
        check(@ccall libconvergent.cvg_session_create(session::Ptr{Ptr{Cvoid}}, pointer.(names)::Ptr{Ptr{UInt8}},
                                                      2::Int32, C_NULL::Ptr{Cvoid}, N::Int64)::Cint)
    end
    for batch in (1:N÷2, N÷2+1:N)
        for (net, fc, conv) in ((0, Xt, A), (1, Yt, B))
            check(@ccall libconvergent.cvg_session_push_dlpack(session[]::Ptr{Cvoid}, net::Int32, "fc"::Cstring,
                          dlpack_tensor(view(fc, :, batch))::Ptr{Cvoid})::Cint)
            check(@ccall libconvergent.cvg_session_push_dlpack(session[]::Ptr{Cvoid}, net::Int32, "conv"::Cstring,
                          dlpack_tensor(view(conv, :, :, :, batch))::Ptr{Cvoid})::Cint)
        end
        @assert isempty(SHARED)
    end
    results = joinpath(mktempdir(), "results")  # give your own directory to keep them
    check(@ccall libconvergent.cvg_session_finish(session[]::Ptr{Cvoid}, results::Cstring)::Cint)
    @assert isfile(joinpath(results, "summary.json")) && isdir(joinpath(results, "conv"))
    println("session results (`convergent report` reads them): ", readdir(results))

    @ccall libconvergent.cvg_session_destroy(session[]::Ptr{Cvoid})::Cvoid
    @ccall libconvergent.cvg_stats_destroy(st3[]::Ptr{Cvoid})::Cvoid
    @ccall libconvergent.cvg_stats_destroy(st2[]::Ptr{Cvoid})::Cvoid
end

if Base.find_package("DLPack") === nothing
    println("DLPack.jl is not installed (pkg> add DLPack): steps 10-11 skipped")
else
    using DLPack
    Base.invokelatest(dlpack_steps, X, Y, C)  # the latest world: DLPack was loaded just now
end

# 12. cleanup (the destroy functions accept NULL)
@ccall libconvergent.cvg_sparse_destroy(sp[]::Ptr{Cvoid})::Cvoid
@ccall libconvergent.cvg_options_destroy(opts[]::Ptr{Cvoid})::Cvoid
@ccall libconvergent.cvg_stats_destroy(st[]::Ptr{Cvoid})::Cvoid
