# Loads a .gyp file with gyp's own loader and prints its targets as JSON, after variables,
# conditions and command expansions: what node-gyp would build, without building it.
#   python3 load_gyp.py <gyp pylib folder> <file.gyp> '<variables as a JSON object>'
# Run in the .gyp file's folder (its command expansions run there).
import json
import os
import sys
import types

sys.path.insert(0, sys.argv[1])
import gyp  # noqa: E402

gyp_file = os.path.abspath(sys.argv[2])
variables = json.loads(sys.argv[3])
# Names the make generator gives these at generation time; their values do not matter here.
for name in ('INTERMEDIATE_DIR', 'PRODUCT_DIR', 'RULE_INPUT_ROOT', 'RULE_INPUT_PATH'):
    variables.setdefault(name, '$' + name)
options = types.SimpleNamespace(generator_output=None, toplevel_dir=os.path.dirname(gyp_file), suffix='')
params = {'options': options, 'parallel': False, 'root_targets': None, 'generator_flags': {}}
_generator, _flat, targets, _data = gyp.Load(
    [gyp_file], 'gypd', default_variables=variables, includes=[], depth=os.path.dirname(gyp_file), params=params
)
out = {}
for qualified, spec in targets.items():
    out[spec['target_name']] = spec
print(json.dumps(out))
