/** s4.ssm: the float64 set-up math of SSM layers and the recurrent steppers. */
export { stepper, diagStepper, Stepper, type StepperOptions, type DplrStepperOptions } from './stepper';
export * from './types';
export * from './step_setup';
export * from './complex';
export * from './hippo';
export * from './eigen';
export * from './nplr';
export * from './discretize';
export * from './init';
export * from './kernel64';
