// Does the Docker engine answer? Asked with the drill's own client (dockerode, which honours
// DOCKER_HOST: unix, tcp, ssh), so set-up needs no docker CLI (a GitLab job image has none).
// Exit 0: it answers; 2: it refuses this user (permission denied on its socket); 1: no answer.
import Dockerode from "dockerode";

try {
  await new Dockerode().ping();
  process.exit(0);
} catch (error) {
  console.error(error.message);
  process.exit(error.code === "EACCES" ? 2 : 1);
}
