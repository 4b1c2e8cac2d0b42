export { plugin, toyLoss, TOY_OPTIMUM } from './quadratic';
