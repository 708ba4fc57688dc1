import { JoinScreen } from "./join/JoinScreen";

/** The app's screens. Only the join screen exists until the call screen lands. */
export function App() {
  return (
    <main className="app">
      <JoinScreen />
    </main>
  );
}
