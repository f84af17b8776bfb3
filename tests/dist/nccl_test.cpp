// NCCL on the CUDA backend (include/perceptual/dist/nccl.hpp), run by ctest as `mpirun -np 1
// nccl_tests` and `mpirun -np 2 --oversubscribe nccl_tests`, and on a GPU machine by
// scripts/device_check.sh as one rank: sums of float, double and bf16 device buffers, the same on
// every rank; combine_gradients on the device against the host path. Without a device each case
// skips, saying so; so does each case that needs NCCL when there are more ranks than devices.
#include "perceptual/dist/nccl.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "cuda/support.hpp"
#include "perceptual/app/cuda_device.hpp"
#include "perceptual/app/distributed.hpp"
#include "perceptual/backend/cuda/cuda.hpp"
#include "support/mirror_ranks.hpp"

using namespace perceptual;

namespace {

// This process's NCCL communicator (MPI and NCCL are initialised once per process), on the device
// that Device<Cuda>::start chooses for its local rank; nullptr, after saying why the case skips,
// when this machine has fewer devices than ranks (NCCL needs one per rank). Every rank decides
// alike: they see the same devices.
dist::NcclCommunicator* world() {
  const int ranks = std::max(1, dist::launched_ranks());
  int devices = 0;
  PERCEPTUAL_CUDA_CHECK(cudaGetDeviceCount(&devices));
  if (ranks > devices) {
    MESSAGE("skipped: " << ranks << " ranks need a CUDA device each, and this machine has " << devices);
    return nullptr;
  }
  // Destroyed at exit, before the CUDA runtime that Device<Cuda>::start set up: MPI must be
  // finalised (mpirun fails a rank that exits without), NCCL's communicator destroyed first.
  static const std::unique_ptr<dist::NcclCommunicator> comm = [] {
    app::Device<Cuda>::start("");
    return std::make_unique<dist::NcclCommunicator>();
  }();
  return comm.get();
}

template <class T>
dist::DeviceBuffer device_buffer(Tensor<T, Cuda>& x) {
  return {x.data(), x.size(), dist::detail::device_scalar<T>(), x.buffer().device()};
}

// Two ranks that hold the same values, on the device: a sum doubles them (through the host, as
// the test's stand-in for NCCL). Records what it was given.
struct DeviceMirror final : dist::Communicator, dist::DeviceSum {
  std::vector<dist::DeviceBuffer> seen;
  int size() const override { return 2; }
  DeviceSum* device_sum() const override { return const_cast<DeviceMirror*>(this); }
  std::string name() const override { return "mirror"; }
  void sum(std::span<const dist::DeviceBuffer> buffers) override {
    cuda::synchronize();  // the weights were queued on the backend's stream
    for (const auto& b : buffers) {
      seen.push_back(b);
      if (b.scalar == dist::DeviceBuffer::Scalar::f32) doubled<float>(b);
      if (b.scalar == dist::DeviceBuffer::Scalar::f64) doubled<double>(b);
      if (b.scalar == dist::DeviceBuffer::Scalar::bf16) doubled<bf16>(b);
    }
  }
  template <class T>
  static void doubled(const dist::DeviceBuffer& b) {
    std::vector<T> v(b.count);
    PERCEPTUAL_CUDA_CHECK(cudaMemcpy(v.data(), b.data, b.count * sizeof(T), cudaMemcpyDeviceToHost));
    for (T& x : v) x = static_cast<T>(2 * static_cast<float>(x));  // exact: a power of two
    PERCEPTUAL_CUDA_CHECK(cudaMemcpy(b.data, v.data(), b.count * sizeof(T), cudaMemcpyHostToDevice));
  }
};

// NCCL's ranks, through the host: the host path of combine_gradients over the same ranks.
struct ThroughHost final : dist::Communicator {
  dist::Communicator& comm;
  explicit ThroughHost(dist::Communicator& c) : comm(c) {}
  int rank() const override { return comm.rank(); }
  int size() const override { return comm.size(); }
  void sum(std::span<float> v) override { comm.sum(v); }
  void sum(std::span<double> v) override { comm.sum(v); }
};

}  // namespace

TEST_CASE("NcclCommunicator sums float, double and bf16 device buffers in one call, the same on every rank") {
  PERCEPTUAL_REQUIRE_DEVICE();
  dist::NcclCommunicator* comm = world();
  if (!comm) return;
  const int r = comm->rank(), n = comm->size();
  CHECK(n == std::max(1, dist::launched_ranks()));
  REQUIRE(comm->device_sum() != nullptr);
  CHECK(comm->device_sum()->name().starts_with("NCCL 2."));
  CHECK(app::ranks_text(*comm) ==
        ", " + std::to_string(n) + (n == 1 ? " rank" : " ranks") + " over " + comm->device_sum()->name());

  // Small integers, exact in each type (bf16: up to 256), so the sums are exact too.
  std::vector<float> f(1000);
  std::vector<double> d(100000);
  std::vector<bf16> h(300);
  for (std::size_t i = 0; i < f.size(); ++i) f[i] = static_cast<float>(i + r);
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<double>(i % 1000) * (r + 1);
  for (std::size_t i = 0; i < h.size(); ++i) h[i] = bf16(static_cast<float>(i % 7) * (r + 1));
  auto tf = Tensor<float, Cuda>::from_host({1, 1, 1, 1000}, f);
  auto td = Tensor<double, Cuda>::from_host({1, 1, 100, 1000}, d);
  auto th = Tensor<bf16, Cuda>::from_host({1, 3, 10, 10}, h);
  const std::vector<dist::DeviceBuffer> buffers{device_buffer(tf), device_buffer(td), device_buffer(th)};
  comm->device_sum()->sum(buffers);

  const double ranks = n, rank_sum = n * (n - 1) / 2.0, weight_sum = n * (n + 1) / 2.0;
  const auto rf = tf.to_host();
  const auto rd = td.to_host();
  const auto rh = th.to_host();
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < rf.size(); ++i) wrong += rf[i] != static_cast<float>(ranks * i + rank_sum);
  for (std::size_t i = 0; i < rd.size(); ++i) wrong += rd[i] != static_cast<double>(i % 1000) * weight_sum;
  for (std::size_t i = 0; i < rh.size(); ++i) wrong += static_cast<float>(rh[i]) != (i % 7) * weight_sum;
  CHECK(wrong == 0);

  // Nothing to sum is no call at all; the host sums go through MPI.
  comm->device_sum()->sum({});
  std::vector<double> host{static_cast<double>(r)};
  comm->sum(std::span<double>(host));
  CHECK(host[0] == rank_sum);
  comm->barrier();
}

TEST_CASE("NcclCommunicator: a buffer on another device than the rank's is an Error naming both") {
  PERCEPTUAL_REQUIRE_DEVICE();
  dist::NcclCommunicator* comm = world();
  if (!comm) return;
  const dist::DeviceBuffer elsewhere{nullptr, 4, dist::DeviceBuffer::Scalar::f32, comm->device() + 1};
  const std::string expected = "a buffer on device " + std::to_string(comm->device() + 1) +
                               ", but this rank's NCCL communicator is on device " + std::to_string(comm->device());
  CHECK_THROWS_WITH_AS(comm->device_sum()->sum(std::span(&elsewhere, 1)), doctest::Contains(expected.c_str()), Error);
}

TEST_CASE("combine_gradients on the device: every learnable gradient, weighted, in parameter order, as on the host") {
  PERCEPTUAL_PARITY_CASE(rng);
  // Weight 1/4 (1 image of a batch of 4 per rank): exact in bf16 too, so every type gives the host's bits.
  auto cpu_f = testing::random_tensor<float>({2, 3, 4, 5}, rng, -1, 1);
  auto cpu_d = testing::random_tensor<double>({1, 7, 1, 1}, rng, -1, 1);
  auto cpu_h = testing::bf16_rounded(testing::random_tensor<float>({3, 1, 2, 2}, rng, -1, 1));
  auto gf = testing::to_cuda(cpu_f);
  auto gd = testing::to_cuda(cpu_d);
  auto gh = testing::to_cuda<bf16>(cpu_h);
  const std::vector<float> original = cpu_f.to_host();
  Tensor<float, Cuda> value, state = testing::to_cuda(cpu_f);  // state: saved, not learned
  const Tensor<float, Cuda> kept = gf.share();                 // shares gf's storage: must not change with it
  DeviceMirror device;
  dist::combine_gradients(device, Parameters<float, Cuda>{{"w", &value, &gf}, {"running_mean", &state, nullptr}}, 1, 4);
  dist::combine_gradients(device, Parameters<double, Cuda>{{"w", nullptr, &gd}}, 1, 4);
  dist::combine_gradients(device, Parameters<bf16, Cuda>{{"w", nullptr, &gh}}, 1, 4);
  REQUIRE(device.seen.size() == 3);
  CHECK(device.seen[0].count == cpu_f.size());
  CHECK(device.seen[0].scalar == dist::DeviceBuffer::Scalar::f32);
  CHECK(device.seen[1].scalar == dist::DeviceBuffer::Scalar::f64);
  CHECK(device.seen[2].scalar == dist::DeviceBuffer::Scalar::bf16);
  CHECK(device.seen[2].device == cuda::current_device());

  Tensor<float, Cpu> cpu_hf = cpu_h;
  testing::MirrorRanks host;  // the same on the host, for the host path
  dist::combine_gradients(host, Parameters<float, Cpu>{{"w", nullptr, &cpu_f}}, 1, 4);
  dist::combine_gradients(host, Parameters<double, Cpu>{{"w", nullptr, &cpu_d}}, 1, 4);
  dist::combine_gradients(host, Parameters<float, Cpu>{{"w", nullptr, &cpu_hf}}, 1, 4);
  CHECK(gf.to_host() == cpu_f.to_host());
  CHECK(gd.to_host() == cpu_d.to_host());
  CHECK(testing::to_cpu<float>(gh).to_host() == cpu_hf.to_host());
  CHECK(kept.to_host() == original);
  CHECK(state.to_host() == original);
}

TEST_CASE("combine_gradients over NCCL gives every rank what the host path over MPI gives") {
  PERCEPTUAL_REQUIRE_DEVICE();
  dist::NcclCommunicator* comm = world();
  if (!comm) return;
  const int r = comm->rank(), n = comm->size();
  // Rank r has r + 1 images of a global batch of n (n + 1) / 2: uneven weights.
  const int shard = r + 1, batch = n * (n + 1) / 2;
  std::mt19937_64 rng(17 + r);
  const auto f = testing::random_tensor<float>({2, 3, 4, 5}, rng, -1, 1);
  const auto d = testing::random_tensor<double>({1, 8, 3, 3}, rng, -1, 1);
  const auto h = testing::bf16_rounded(testing::random_tensor<float>({1, 16, 2, 2}, rng, -1, 1));
  auto gf = testing::to_cuda(f), hf = gf;
  auto gd = testing::to_cuda(d), hd = gd;
  auto gh = testing::to_cuda<bf16>(h), hh = gh;
  dist::combine_gradients(*comm, Parameters<float, Cuda>{{"a", nullptr, &gf}}, shard, batch);
  dist::combine_gradients(*comm, Parameters<double, Cuda>{{"b", nullptr, &gd}}, shard, batch);
  dist::combine_gradients(*comm, Parameters<bf16, Cuda>{{"c", nullptr, &gh}}, shard, batch);
  ThroughHost host(*comm);
  dist::combine_gradients(host, Parameters<float, Cuda>{{"a", nullptr, &hf}}, shard, batch);
  dist::combine_gradients(host, Parameters<double, Cuda>{{"b", nullptr, &hd}}, shard, batch);
  dist::combine_gradients(host, Parameters<bf16, Cuda>{{"c", nullptr, &hh}}, shard, batch);
  // Float and double: the same product by the weight and, for up to two ranks, one addition, so
  // the same bits; more ranks may add in another order (within rounding).
  const double exact = n <= 2 ? 0 : 1e-6;
  CHECK(testing::relative_error(testing::to_cpu(hf), gf) <= exact);
  CHECK(testing::relative_error(testing::to_cpu(hd), gd) <= exact);
  // bf16: weighted and summed in bf16 on the device, in float on the host; a bf16 rounding or two.
  CHECK(testing::relative_error(testing::to_cpu<float>(hh), gh) <= 2 * std::ldexp(1.0, -8));
  if (n == 1) CHECK(testing::to_cpu<float>(gh).to_host() == h.to_host());  // alone: untouched
}
