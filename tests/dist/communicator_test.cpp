#include "perceptual/dist/communicator.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "perceptual/core/host.hpp"
#include "support/mirror_ranks.hpp"

using namespace perceptual;
using TensorF = Tensor<float, Cpu>;

namespace {

// A backend whose storage names a device (3) but lives in host memory, as the CUDA backend's
// lives on its device: combine_gradients' device path, run here on the CPU.
struct PretendDevice {
  template <class T>
  class buffer {
   public:
    explicit buffer(Shape4 s) : values_(s.size()) {}
    T* data() { return values_.data(); }
    const T* data() const { return values_.data(); }
    void copy_to_host(T* out) const { std::copy(values_.begin(), values_.end(), out); }
    void copy_from_host(const T* in) { std::copy(in, in + values_.size(), values_.begin()); }
    int device() const { return 3; }

   private:
    std::vector<T> values_;
  };
};

// The backend's one operation that combine_gradients calls, found as the CUDA backend's is: by
// the tensor's backend's namespace.
template <class T>
void scale(Tensor<T, PretendDevice>& x, T a) {
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] *= a;
}

// `ranks` ranks that hold the same values, summed "on the device": multiplied by `ranks`. Records
// what it was given.
struct PretendDeviceSum final : dist::Communicator, dist::DeviceSum {
  int ranks;
  std::vector<dist::DeviceBuffer> seen;
  explicit PretendDeviceSum(int n) : ranks(n) {}
  int size() const override { return ranks; }
  DeviceSum* device_sum() const override { return const_cast<PretendDeviceSum*>(this); }
  std::string name() const override { return "pretend"; }
  void sum(std::span<const dist::DeviceBuffer> buffers) override {
    for (const auto& b : buffers) {
      seen.push_back(b);
      for (std::size_t i = 0; i < b.count; ++i)
        if (b.scalar == dist::DeviceBuffer::Scalar::f32)
          static_cast<float*>(b.data)[i] *= static_cast<float>(ranks);
        else
          static_cast<double*>(b.data)[i] *= ranks;
    }
  }
};

}  // namespace

TEST_CASE("dist::shard: contiguous shares in rank order, the first ranks one image more; none empty") {
  CHECK(dist::shard(4, 0, 2).begin == 0);
  CHECK(dist::shard(4, 0, 2).end == 2);
  CHECK(dist::shard(4, 1, 2).begin == 2);
  CHECK(dist::shard(4, 1, 2).end == 4);
  CHECK(dist::shard(5, 0, 2).size() == 3);
  CHECK(dist::shard(5, 1, 2).begin == 3);
  CHECK(dist::shard(5, 1, 2).end == 5);
  CHECK(dist::shard(3, 2, 3).begin == 2);
  CHECK(dist::shard(7, dist::alone()).size() == 7);
  CHECK_THROWS_WITH_AS(dist::shard(1, 0, 2), doctest::Contains("a global batch of 1 cannot be shared by 2 ranks"),
                       ArgumentError);
  CHECK_THROWS_AS(dist::shard(4, 2, 2), ArgumentError);
  CHECK_THROWS_AS(dist::shard(4, 0, 0), ArgumentError);
}

TEST_CASE("combine_gradients and combine_means weight each rank's mean by its share of the global batch") {
  TensorF w = TensorF::from_host({1, 1, 1, 2}, std::vector<float>{1, 2});
  TensorF gw = TensorF::from_host({1, 1, 1, 2}, std::vector<float>{4, 8});
  TensorF stat = TensorF::from_host({1, 1, 1, 1}, std::vector<float>{5});  // not learnable: untouched
  const Parameters<float, Cpu> params{{"w", &w, &gw}, {"running_mean", &stat, nullptr}};

  // Alone: nothing changes.
  dist::combine_gradients(dist::alone(), params, 4, 4);
  CHECK(gw.to_host() == std::vector<float>{4, 8});

  // Two ranks of 2 images each, with the same means: the global mean is that mean.
  testing::MirrorRanks two;
  dist::combine_gradients(two, params, 2, 4);
  CHECK(gw.to_host() == std::vector<float>{4, 8});
  // 1 image of a batch of 4 on each of the two ranks (a weight of 1/4 each): half of it.
  dist::combine_gradients(two, params, 1, 4);
  CHECK(gw.to_host() == std::vector<float>{2, 4});
  CHECK(stat.to_host() == std::vector<float>{5});

  std::vector<double> terms{3, 6};
  dist::combine_means(two, terms, 2, 4);
  CHECK(terms == std::vector<double>{3, 6});
}

TEST_CASE("combine_gradients on a device: one DeviceSum call, the learnable gradients weighted in parameter order") {
  using TensorD = Tensor<float, PretendDevice>;
  TensorD w = TensorD::from_host({1, 1, 1, 2}, std::vector<float>{1, 2});
  TensorD gw = TensorD::from_host({1, 1, 1, 2}, std::vector<float>{4, 8});
  TensorD stat = TensorD::from_host({1, 1, 1, 1}, std::vector<float>{5});
  TensorD gb = TensorD::from_host({1, 3, 1, 1}, std::vector<float>{-4, 0, 12});
  const TensorD kept = gb.share();  // shares gb's storage: must not change with it
  Tensor<double, PretendDevice> v({1, 1, 1, 1}),
      gv = Tensor<double, PretendDevice>::from_host({1, 1, 1, 1}, std::vector<double>{6.0});
  const Parameters<float, PretendDevice> params{{"w", &w, &gw}, {"running_mean", &stat, nullptr}, {"b", &w, &gb}};

  // Two ranks of 1 image of a batch of 4 each: a quarter of each, summed over two ranks.
  PretendDeviceSum two(2);
  dist::combine_gradients(two, params, 1, 4);
  dist::combine_gradients(two, Parameters<double, PretendDevice>{{"v", &v, &gv}}, 1, 4);
  CHECK(gw.to_host() == std::vector<float>{2, 4});
  CHECK(gb.to_host() == std::vector<float>{-2, 0, 6});
  CHECK(gv.to_host() == std::vector<double>{3});
  CHECK(stat.to_host() == std::vector<float>{5});
  CHECK(kept.to_host() == std::vector<float>{-4, 0, 12});
  REQUIRE(two.seen.size() == 3);  // w and b in one call, then v
  CHECK(two.seen[0].data == gw.data());
  CHECK(two.seen[0].count == 2);
  CHECK(two.seen[1].data == gb.data());
  CHECK(two.seen[1].count == 3);
  CHECK(two.seen[0].scalar == dist::DeviceBuffer::Scalar::f32);
  CHECK(two.seen[2].scalar == dist::DeviceBuffer::Scalar::f64);
  CHECK(two.seen[0].device == 3);

  // One rank (mpirun -np 1) takes the same path, with its whole batch: weight 1, nothing scaled.
  PretendDeviceSum one(1);
  dist::combine_gradients(one, params, 4, 4);
  CHECK(one.seen.size() == 2);
  CHECK(gw.to_host() == std::vector<float>{2, 4});

  // The host path of a communicator without a DeviceSum, for gradients on a device alike.
  testing::MirrorRanks host;
  dist::combine_gradients(host, params, 1, 4);
  CHECK(gw.to_host() == std::vector<float>{1, 2});
}

TEST_CASE("launched_local_rank and launched_device: the launchers' own variables before srun's") {
  for (const char* variable : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"}) unsetenv(variable);
  CHECK(dist::launched_local_rank() == -1);
  CHECK(dist::launched_device(4) == -1);  // no launcher: the current device stays

  setenv("SLURM_LOCALID", "2", 1);  // srun
  CHECK(dist::launched_local_rank() == 2);
  CHECK(dist::launched_device(4) == 2);
  CHECK(dist::launched_device(2) == 0);  // more ranks than devices: they share, round robin
  CHECK(dist::launched_device(1) == 0);  // srun --gpus-per-task: each rank sees its one device
  CHECK(dist::launched_device(0) == -1);
  setenv("MPI_LOCALRANKID", "1", 1);  // MPICH's mpiexec inside an allocation
  CHECK(dist::launched_local_rank() == 1);
  setenv("OMPI_COMM_WORLD_LOCAL_RANK", "3", 1);  // Open MPI's mpirun inside an allocation
  CHECK(dist::launched_local_rank() == 3);
  CHECK(dist::launched_device(2) == 1);
  setenv("OMPI_COMM_WORLD_LOCAL_RANK", "-5", 1);
  CHECK(dist::launched_local_rank() == 0);
  for (const char* variable : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"}) unsetenv(variable);
}
