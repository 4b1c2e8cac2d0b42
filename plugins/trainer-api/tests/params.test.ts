import { defaultParams, ParamError, validateParams, type ParamSchema } from '../src';

const schema = {
  tau: { type: 'float', default: 0.1, min: 0.01, max: 1, description: 'temperature' },
  epochs: { type: 'int', default: 10, min: 1, description: 'epochs' },
  model: { type: 'categorical', default: 'resnet32', choices: ['resnet32', 'resnet50'], description: 'net' },
  strict: { type: 'bool', default: false, description: 'strict' },
  name: { type: 'string', default: 'x', description: 'name' },
} satisfies ParamSchema;

describe('validateParams', () => {
  it('fills defaults', () => {
    expect(defaultParams(schema)).toEqual({ tau: 0.1, epochs: 10, model: 'resnet32', strict: false, name: 'x' });
  });

  it('keeps given values', () => {
    expect(validateParams(schema, { tau: 0.5, model: 'resnet50' })).toMatchObject({ tau: 0.5, model: 'resnet50' });
  });

  it.each([
    [{ tau: 2 }, 'parameter "tau": got 2, expected a finite number in [0.01, 1]'],
    [{ tau: 'hot' }, 'parameter "tau": got "hot", expected a finite number in [0.01, 1]'],
    [{ epochs: 1.5 }, 'parameter "epochs": got 1.5, expected an integer >= 1'],
    [{ model: 'vgg' }, 'parameter "model": got "vgg", expected one of "resnet32", "resnet50"'],
    [{ strict: 'yes' }, 'parameter "strict": got "yes", expected true or false'],
    [{ taux: 1 }, 'parameter "taux": got 1, expected a known parameter (one of: tau, epochs, model, strict, name)'],
  ])('rejects %j with one clear line', (input, message) => {
    let err: unknown;
    try {
      validateParams(schema, input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ParamError);
    expect((err as Error).message).toBe(message);
    expect((err as Error).message).not.toContain('\n');
  });
});
