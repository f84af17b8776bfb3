# Video (include/perceptual/video/, examples/stylize_video and flicker): OpenCV's optical flow for
# the flicker metric and the flow stability method, FFmpeg's command-line programs for reading and
# writing video. PERCEPTUAL_VIDEO is AUTO (the default: on when OpenCV's core, imgproc and video
# modules are found), ON (required) or OFF. After this file PERCEPTUAL_VIDEO is ON or OFF; when ON,
# perceptual::video links the three modules and defines PERCEPTUAL_WITH_VIDEO. Only the programs
# and tests that link it include video/flow.hpp, so the library stays header-only without OpenCV.
# ffmpeg and ffprobe are found at run time (PATH), not here: the programs say so when they are missing.
set(PERCEPTUAL_VIDEO AUTO CACHE STRING "Build the video programs over OpenCV and FFmpeg: AUTO (when OpenCV is found), ON (required) or OFF")
set_property(CACHE PERCEPTUAL_VIDEO PROPERTY STRINGS AUTO ON OFF)
string(TOUPPER "${PERCEPTUAL_VIDEO}" perceptual_video_request)
if(perceptual_video_request STREQUAL "OFF" OR (NOT perceptual_video_request STREQUAL "AUTO" AND NOT PERCEPTUAL_VIDEO))
  set(PERCEPTUAL_VIDEO OFF)
else()
  find_package(OpenCV QUIET COMPONENTS core imgproc video)
  set(perceptual_opencv_libraries "")
  set(perceptual_opencv_includes "")
  if(OpenCV_FOUND)
    set(perceptual_opencv_libraries ${OpenCV_LIBS})
    set(perceptual_opencv_includes ${OpenCV_INCLUDE_DIRS})
  else()
    # Debian's per-module packages (libopencv-video-dev pulls core and imgproc) ship no
    # OpenCVConfig.cmake (libopencv-dev, with every module and FFmpeg's headers, does): find the
    # three modules themselves.
    find_path(perceptual_opencv_include opencv2/video/tracking.hpp PATH_SUFFIXES opencv4)
    foreach(module core imgproc video)
      find_library(perceptual_opencv_${module} opencv_${module})
      if(perceptual_opencv_${module})
        list(APPEND perceptual_opencv_libraries ${perceptual_opencv_${module}})
      endif()
    endforeach()
    list(LENGTH perceptual_opencv_libraries perceptual_opencv_count)
    if(perceptual_opencv_include AND perceptual_opencv_count EQUAL 3)
      set(perceptual_opencv_includes ${perceptual_opencv_include})
    else()
      set(perceptual_opencv_libraries "")
    endif()
  endif()
  if(perceptual_opencv_libraries)
    set(PERCEPTUAL_VIDEO ON)
    message(STATUS "perceptual: video on (OpenCV ${perceptual_opencv_includes})")
    add_library(perceptual_video INTERFACE)
    add_library(perceptual::video ALIAS perceptual_video)
    target_include_directories(perceptual_video SYSTEM INTERFACE ${perceptual_opencv_includes})
    target_link_libraries(perceptual_video INTERFACE ${perceptual_opencv_libraries})
    target_compile_definitions(perceptual_video INTERFACE PERCEPTUAL_WITH_VIDEO)
  elseif(perceptual_video_request STREQUAL "AUTO")
    message(STATUS "perceptual: video off (no OpenCV core/imgproc/video; on Debian: libopencv-video-dev)")
    set(PERCEPTUAL_VIDEO OFF)
  else()
    message(FATAL_ERROR "perceptual: PERCEPTUAL_VIDEO=ON but OpenCV's core, imgproc and video modules were not found (on Debian: libopencv-video-dev)")
  endif()
endif()
