# Calling libconvergent's C ABI from Julia with @ccall (no wrapper package).
# The same call sequence, step by step, is tested from C in
# tests/c/test_capi_julia_sequence.c: keep the two in sync.
#
#   CONVERGENT_LIBRARY=/path/to/libconvergent.so julia convergent_example.jl
#
# Julia arrays are column-major: pass CVG_COL_MAJOR and ld = size(A, 1).
# Handles are Ptr{Cvoid}; an output handle is a Ref{Ptr{Cvoid}}.
# Indices coming back are 0-based (add 1 in Julia).

const libconvergent = get(ENV, "CONVERGENT_LIBRARY", "libconvergent")
const CVG_OK = Cint(0)
const CVG_E_INVALID_ARG = Cint(-1)
const CVG_COL_MAJOR = Int32(1)
const CVG_BACKEND_CPU = Int32(1)
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

# 10. cleanup (the destroy functions accept NULL)
@ccall libconvergent.cvg_sparse_destroy(sp[]::Ptr{Cvoid})::Cvoid
@ccall libconvergent.cvg_options_destroy(opts[]::Ptr{Cvoid})::Cvoid
@ccall libconvergent.cvg_stats_destroy(st[]::Ptr{Cvoid})::Cvoid
