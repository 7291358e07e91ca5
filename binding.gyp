# The node-gyp build of the addon (`npx node-gyp rebuild`, `npm run build:gyp`,
# `npm run build:prebuild`): the same build/Release/s4.node as the cmake-js build of
# CMakeLists.txt. Sources, defines and flags come from native/build.json through
# scripts/build-config.js (CMakeLists.txt reads the same file); name no file or flag here
# that CMakeLists.txt does not also get from there: test/build_sources.test.ts compares
# what the two builds compile.
#
# The CUDA backend is built when nvcc is found ($CUDACXX, PATH, /usr/local/cuda/bin), as
# CMake's check_language(CUDA) finds it; `GYP_DEFINES=s4_nvcc=` builds the CPU backend
# only, `GYP_DEFINES=s4_ptxas_verbose=1` prints ptxas's resource report. The CUDA run
# time is linked statically; cuFFT and cuBLAS are opened at run time (dlopen), so the
# addon needs only the driver.
{
  'variables': {
    's4_nvcc%': '<!(node scripts/build-config.js nvcc)',
    # 1: ptxas reports each kernel's registers and spills (CMake: -DS4_PTXAS_VERBOSE=ON).
    's4_ptxas_verbose%': 0,
  },
  'targets': [
    {
      'target_name': 's4',
      'type': 'loadable_module',
      'sources': ['<!@(node scripts/build-config.js sources cpu)'],
      # Node-API only: the same headers cmake-js builds against (node-api-headers).
      'include_dirs': [
        '<!(node -p "require(\'node-api-headers\').include_dir")',
        '<!(node scripts/build-config.js addon-api-include)',
      ],
      'defines': [
        '<!@(node scripts/build-config.js defines)',
        'S4_VERSION="<!(node scripts/build-config.js version)"',
      ],
      'cflags_cc': ['<!@(node scripts/build-config.js cxx-flags)'],
      # node-gyp's defaults that CMake's do not have: node-addon-api's C++ exceptions need
      # exceptions, and RTTI stays on as in the CMake build; -Wextra and the frame pointer
      # would make the two builds' warnings and code differ.
      'cflags!': ['-fno-exceptions', '-Wextra', '-fno-omit-frame-pointer'],
      'cflags_cc!': ['-fno-exceptions', '-fno-rtti'],
      'libraries': ['-lpthread', '-ldl'],
      'configurations': {
        # CMake's Release build type defines these too.
        'Release': {'defines': ['<!@(node scripts/build-config.js release-defines)']},
      },
      'conditions': [
        ['s4_nvcc!=""', {
          'sources': ['<!@(node scripts/build-config.js sources cuda)'],
          'defines': [
            '<!@(node scripts/build-config.js cuda-defines)',
            'S4_CUDA_ARCHS="<!(node scripts/build-config.js cuda-archs)"',
          ],
          'include_dirs': ['<!(node scripts/build-config.js cuda-include)'],
          'libraries': [
            '<!(node scripts/build-config.js cuda-libdir)/libcudart_static.a',
            '-lrt',
          ],
          'rules': [
            {
              # Each .cu file to an object linked into the addon, with nvcc and the
              # options CMake gives it (architectures, standard, flags, defines, includes).
              'rule_name': 'nvcc',
              'extension': 'cu',
              'inputs': ['native/build.json'],
              'outputs': ['<(INTERMEDIATE_DIR)/<(RULE_INPUT_ROOT).cu.o'],
              'process_outputs_as_sources': 1,
              'message': 'nvcc <(RULE_INPUT_PATH)',
              'action': [
                '<(s4_nvcc)',
                '<!@(node scripts/build-config.js nvcc-args <(s4_ptxas_verbose))',
                '-c', '<(RULE_INPUT_PATH)',
                '-o', '<(INTERMEDIATE_DIR)/<(RULE_INPUT_ROOT).cu.o',
              ],
            },
          ],
        }],
      ],
    },
    {
      # The same check as CMakeLists.txt's after linking: no op twin left undefined.
      'target_name': 'check_undefined',
      'type': 'none',
      'dependencies': ['s4'],
      'actions': [
        {
          'action_name': 'check_undefined',
          'inputs': ['<(PRODUCT_DIR)/s4.node'],
          'outputs': ['<(INTERMEDIATE_DIR)/s4.check_undefined.stamp'],
          'action': ['node', 'scripts/check-undefined.js', '<@(_inputs)', '<@(_outputs)'],
        },
      ],
    },
  ],
}
